import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../client/src/types.ts';
import { SCREENSHOTS, launchChromium } from '../support/browser.ts';
import { eventually } from '../support/eventually.ts';
import { type StackProcess, startStackProcess } from '../support/local-stack-process.ts';

/**
 * The web page and the API docs in a real browser (Debian's Chromium through playwright-core),
 * against the local stack as `npm start` runs it: what a user sees is what is checked, and every
 * request the pages make is recorded, so one that leaves the stack's origin fails the suite.
 */
const USER = 'ada';
const AXE_SOURCE = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'analytical-engine-1843';

describe('the web page and /docs in Chromium', () => {
  let stack: StackProcess;
  let browser: Browser;
  const offOrigin: string[] = [];
  const pageErrors: string[] = [];

  const api = async <T>(path: string, init: RequestInit = {}, token?: string): Promise<{ status: number; body: T }> => {
    const headers = new Headers(init.headers);
    headers.set('content-type', 'application/json');
    if (token) headers.set('authorization', `Bearer ${token}`);
    const response = await fetch(`${stack.apiUrl}${path}`, { ...init, headers });
    return { status: response.status, body: (await response.json()) as T };
  };
  const tokenFor = async () => (await api<{ token: string }>('/auth/token', { method: 'POST', body: JSON.stringify({ username: USER, password: PASSWORD }) })).body.token;

  /**
   * A fresh context (its own sessionStorage and cookies), watched for requests elsewhere and errors.
   * `refusals`: the test expects the API to answer 401, which the browser logs as an error.
   */
  const open = async ({
    refusals = false,
    ...options
  }: { colorScheme?: 'light' | 'dark'; javaScriptEnabled?: boolean; refusals?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
    const page = await context.newPage();
    page.on('request', (request) => {
      if (!request.url().startsWith(`${stack.apiUrl}/`) && !request.url().startsWith('data:')) offOrigin.push(request.url());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      if (refusals && /status of 401/.test(message.text())) return;
      pageErrors.push(message.text());
    });
    return { context, page };
  };

  const signIn = async (page: Page, password = PASSWORD) => {
    await page.goto(`${stack.apiUrl}/`);
    await page.getByLabel('User name').fill(USER);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  const runTask = async (page: Page, name: string, fill: (page: Page) => Promise<void>) => {
    await page.locator('#task-name').selectOption(name);
    await fill(page);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('.answer article.task').waitFor();
    return (await page.locator('.answer article.task').getAttribute('aria-label'))!;
  };

  const answerId = async (page: Page) => (await page.locator('.answer dd code').first().textContent())!;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStackProcess({ workers: true, env: { DOOZER_LOCAL_USERS: `${USER}:${PASSWORD}` } }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await Promise.all([browser?.close(), stack?.stop()]);
    // Checked last, over every test: no page asked another origin for anything, and none threw.
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('loads the page in three requests (HTML, script, style) of under 12 KB on the wire together, and /docs from the stack alone', async () => {
    const { context, page } = await open();
    try {
      const loaded: { url: string; bytes: number }[] = [];
      page.on('requestfinished', async (request) => {
        const sizes = await request.sizes();
        loaded.push({ url: request.url().slice(stack.apiUrl.length), bytes: sizes.responseBodySize + sizes.responseHeadersSize });
      });
      await page.goto(`${stack.apiUrl}/`, { waitUntil: 'networkidle' });
      const first = loaded.filter((r) => r.url === '/' || r.url.startsWith('/ui/'));
      const total = first.reduce((sum, r) => sum + r.bytes, 0);
      console.info(`The page's first load: ${first.length} requests, ${total} bytes with headers (${first.map((r) => `${r.url} ${r.bytes}`).join(', ')})`);
      expect(first.map((r) => r.url.replace(/-[A-Z0-9]{8}\./, '-*.')).sort()).toEqual(['/', '/ui/app-*.js', '/ui/style-*.css']);
      expect(total).toBeLessThan(12_000);
      loaded.length = 0;
      await Promise.all([page.waitForResponse(`${stack.apiUrl}/openapi.json`), page.goto(`${stack.apiUrl}/docs`)]);
      await page.locator('.swagger-ui .info .title').waitFor();
      const docs = loaded.reduce((sum, r) => sum + r.bytes, 0);
      console.info(`/docs's first load: ${loaded.length} requests, ${docs} bytes with headers (${loaded.map((r) => `${r.url} ${r.bytes}`).join(', ')})`);
      expect(loaded.map((r) => r.url)).toContain('/openapi.json');
    } finally {
      await context.close();
    }
  });

  it('shows the API’s own message for a wrong password, and keeps the token for the tab only once signed in', async () => {
    const { context, page } = await open({ refusals: true });
    try {
      await page.goto(`${stack.apiUrl}/`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
      await signIn(page, 'not-the-password');
      const refused = await api<{ error: { message: string } }>('/auth/token', { method: 'POST', body: JSON.stringify({ username: USER, password: 'nope' }) });
      const alert = page.locator('#sign-in-error');
      await eventually(async () => expect(await alert.textContent()).toBe(refused.body.error.message), { timeoutMs: 10_000 });
      // Keyboard only: the password field has the focus back, the form submits with Enter.
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByText(`Signed in as ${USER}`).waitFor();
      // Page code as strings: this file is type-checked for Node, without the DOM's globals.
      const storage = (await page.evaluate("({ session: sessionStorage.getItem('doozer.token'), local: localStorage.length })")) as { session: string; local: number };
      expect(storage.session).toMatch(/^ey/);
      expect(storage.local).toBe(0);
      // Another tab of the same browser is not signed in.
      const other = await context.newPage();
      await other.goto(`${stack.apiUrl}/`);
      await other.getByRole('heading', { name: 'Sign in' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('runs add 1..6 from the form built from /task-types and shows SUCCESS 21, in the answer and in the list', async () => {
    const { context, page } = await open();
    try {
      await signIn(page);
      await runTask(page, 'add', (p) => p.getByLabel('Integers').fill('1 2 3 4 5 6'));
      await page.locator('.answer [data-state="SUCCESS"]').waitFor();
      expect(await page.locator('.answer .result').textContent()).toBe('21');
      const id = await answerId(page);
      const row = page.locator(`tr[data-task-id="${id}"]`);
      await row.waitFor();
      expect(await row.getAttribute('data-state')).toBe('SUCCESS');
      expect(await row.locator('td').nth(2).textContent()).toBe('21');
      await page.screenshot({ path: join(SCREENSHOTS, 'web-page.png'), fullPage: true });
      // The task's own page: its args, result and times.
      await row.getByRole('link').click();
      await page.getByRole('heading', { name: 'Task' }).waitFor();
      await page.locator('article.task[data-state="SUCCESS"]').waitFor();
      expect(await page.locator('pre.args').textContent()).toBe('[1,2,3,4,5,6]');
      expect(await page.locator('article.task .result').textContent()).toBe('21');
      expect(await page.locator('article.task time').count()).toBeGreaterThanOrEqual(3);
    } finally {
      await context.close();
    }
  });

  it('shows a sleep’s progress bar move, cancels it with the button and shows CANCELLED, as the API has it', async () => {
    const { context, page } = await open();
    try {
      await signIn(page);
      await runTask(page, 'sleep', (p) => p.getByLabel('ms').fill('20000'));
      const bar = page.locator('.answer progress');
      await bar.waitFor();
      const first = Number(await bar.getAttribute('value'));
      await eventually(async () => expect(Number(await bar.getAttribute('value'))).toBeGreaterThan(first), { timeoutMs: 15_000, intervalMs: 200 });
      await page.screenshot({ path: join(SCREENSHOTS, 'web-page-progress.png'), fullPage: true });
      const id = await answerId(page);
      // The keyboard's focus stays on Cancel while the detail is redrawn with new progress.
      const cancel = page.getByRole('button', { name: 'Cancel task' });
      await cancel.focus();
      const before = Number(await bar.getAttribute('value'));
      await eventually(async () => expect(Number(await bar.getAttribute('value'))).toBeGreaterThan(before), { timeoutMs: 15_000, intervalMs: 200 });
      expect(await page.evaluate("document.activeElement?.getAttribute('data-focus')")).toBe('cancel');
      await page.keyboard.press('Enter');
      await page.locator('.answer [data-state="CANCELLED"]').waitFor();
      // Cancel is gone with the open task: the focus moves to the task, not back to the page.
      expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe('Task sleep');
      expect(await page.locator('.answer .state').textContent()).toBe('CANCELLED');
      const token = (await page.evaluate("sessionStorage.getItem('doozer.token')")) as string;
      expect((await api<TaskView>(`/tasks/${id}`, {}, token)).body.state).toBe('CANCELLED');
      // The list shows it too, and filtering by state keeps it and drops the others.
      await page.locator(`tr[data-task-id="${id}"][data-state="CANCELLED"]`).waitFor();
      await page.locator('tbody tr[data-state="SUCCESS"], tbody tr[data-state="PENDING"]').first().waitFor();
      await page.getByLabel('State').selectOption('CANCELLED');
      await page.waitForURL(/state=CANCELLED/);
      await eventually(
        async () => {
          const states = await page.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-state')));
          expect(new Set(states)).toEqual(new Set(['CANCELLED']));
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      await page.locator(`tr[data-task-id="${id}"]`).waitFor();
      // Only the list changed: the form and the answer beside it are as they were.
      expect(await page.locator('#task-name').inputValue()).toBe('sleep');
      expect(await page.getByLabel('ms').inputValue()).toBe('20000');
      expect(await page.locator('.answer .state').textContent()).toBe('CANCELLED');
    } finally {
      await context.close();
    }
  });

  it('follows an open task with about one ?wait= lookup a second, and stops when the reader moves to another task', async () => {
    const { context, page } = await open();
    try {
      await signIn(page);
      await page.getByText(`Signed in as ${USER}`).waitFor();
      const token = (await page.evaluate("sessionStorage.getItem('doozer.token')")) as string;
      const sleeping = (await api<TaskView>('/tasks?wait=0', { method: 'POST', body: JSON.stringify({ name: 'sleep', args: { ms: 30_000 } }) }, token)).body;
      const ended = (await api<TaskView>('/tasks', { method: 'POST', body: JSON.stringify({ name: 'add', args: [1, 2] }) }, token)).body;
      const lookups: number[] = [];
      page.on('request', (request) => {
        if (request.url().includes(`/tasks/${sleeping.id}`)) lookups.push(Date.now());
      });
      await page.goto(`${stack.apiUrl}/#/tasks/${sleeping.id}`);
      await page.locator('article.task progress').waitFor();
      lookups.length = 0;
      const from = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const perSecond = lookups.length / ((Date.now() - from) / 1000);
      console.info(`An open task's page: ${lookups.length} lookups in ${Date.now() - from} ms`);
      // Each lookup waits a second on the API: at most about one a second, and never none.
      expect(perSecond).toBeGreaterThan(0.3);
      expect(perSecond).toBeLessThanOrEqual(1.5);
      await page.goto(`${stack.apiUrl}/#/tasks/${ended.id}`);
      await page.locator('article.task[data-state="SUCCESS"]').waitFor();
      lookups.length = 0;
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(lookups).toEqual([]);
      await api(`/tasks/${sleeping.id}/cancel`, { method: 'POST' }, token);
    } finally {
      await context.close();
    }
  });

  it('brings the sign-in form back, saying why, when the API refuses the tab’s token', async () => {
    const { context, page } = await open({ refusals: true });
    try {
      await signIn(page);
      await page.getByText(`Signed in as ${USER}`).waitFor();
      // A token the API no longer takes (as an expired one), then the page's next request.
      await page.evaluate("sessionStorage.setItem('doozer.token', 'eyJhbGciOiJIUzI1NiJ9.e30.bm90LWEtc2lnbmF0dXJl')");
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await page.locator('.notice').textContent()).toMatch(/^Your session ended \(.+\)\. Sign in again\.$/);
      expect(await page.evaluate("sessionStorage.getItem('doozer.token')")).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('answers HEAD and OPTIONS on the pages through the stack, and another method with a JSON 405', async () => {
    const head = await fetch(`${stack.apiUrl}/docs`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const options = await fetch(`${stack.apiUrl}/`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    const posted = await fetch(`${stack.apiUrl}/docs`, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(((await posted.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('checks the form’s values against the schema before sending, marking the field at fault, and sends nothing', async () => {
    const { context, page } = await open();
    try {
      await signIn(page);
      await page.getByRole('heading', { name: 'Run a task' }).waitFor();
      const posts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().includes('/tasks')) posts.push(request.url());
      });
      const error = page.locator('form p.error');
      await page.locator('#task-name').selectOption('add');
      await page.getByLabel('Integers').fill('1 two 3');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      expect(await error.textContent()).toBe('Integers: value 2, "two", is not a whole number (digits, with an optional minus sign).');
      expect(await page.getByLabel('Integers').getAttribute('aria-invalid')).toBe('true');
      expect(await page.evaluate('document.activeElement?.id')).toBe(await page.getByLabel('Integers').getAttribute('id'));
      await page.locator('#task-name').selectOption('sleep');
      await page.getByLabel('ms').fill('120001');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      expect(await error.textContent()).toBe('ms must be from 0 to 120,000 (got 120,001).');
      expect(posts).toEqual([]);
      // A value within bounds goes, and the field is no longer marked.
      await page.getByLabel('ms').fill('10');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.locator('.answer [data-state="SUCCESS"]').waitFor();
      expect(await page.getByLabel('ms').getAttribute('aria-invalid')).toBeNull();
      expect(posts).toHaveLength(1);
    } finally {
      await context.close();
    }
  });

  it('fits a phone’s width: nothing wider than 390 px, the task list scrolling inside its card', async () => {
    const { context, page } = await open();
    try {
      await page.setViewportSize({ width: 390, height: 844 });
      await signIn(page);
      await runTask(page, 'add', (p) => p.getByLabel('Integers').fill('1 2 3 4 5 6'));
      await page.locator('tbody tr').first().waitFor();
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(SCREENSHOTS, 'web-page-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('is readable in the dark scheme too', async () => {
    const { context, page } = await open({ colorScheme: 'dark' });
    try {
      await signIn(page);
      await page.locator('tbody tr').first().waitFor();
      const colors = (await page.evaluate('({ bg: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.body).color })')) as {
        bg: string;
        text: string;
      };
      expect(colors.bg).toBe('rgb(13, 17, 23)');
      expect(colors.text).toBe('rgb(230, 237, 243)');
      await page.screenshot({ path: join(SCREENSHOTS, 'web-page-dark.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('renders /docs from the deployment, and Try it out on POST /tasks answers 200 with 21 after Authorize', async () => {
    const { context, page } = await open();
    try {
      await page.goto(`${stack.apiUrl}/docs`);
      await page.locator('.swagger-ui .info .title').waitFor();
      expect(await page.locator('#fallback').isHidden()).toBe(true);
      // The Authorize flow the page explains: a token from POST /auth/token, pasted in the dialog.
      await page.locator('.swagger-ui .btn.authorize').first().click();
      await page.locator('.modal-ux input').fill(await tokenFor());
      await page.locator('.modal-ux .auth-btn-wrapper .authorize').click();
      await page.locator('.modal-ux .btn-done').click();
      const operation = page.locator('#operations-tasks-submitTask');
      await operation.locator('.opblock-summary-control').click();
      // Try it out is open already: the first click is Execute, with the example body (add 1..6).
      await operation.locator('.btn.execute').click();
      const status = operation.locator('.live-responses-table tbody .response-col_status');
      await status.waitFor({ timeout: 15_000 });
      expect((await status.textContent())!.trim()).toBe('200');
      const body = JSON.parse((await operation.locator('.live-responses-table .response-col_description .microlight').first().textContent())!);
      expect(body).toMatchObject({ name: 'add', state: 'SUCCESS', result: 21 });
      await page.screenshot({ path: join(SCREENSHOTS, 'docs.png') });
    } finally {
      await context.close();
    }
  });

  it('passes axe-core’s WCAG 2.1 A and AA checks signed out, signed in, on a task’s page, in light and dark', async () => {
    /** The WCAG rules axe-core finds broken on the page as it is now, with where. */
    const violations = async (page: Page) => {
      await page.addScriptTag({ content: await AXE_SOURCE });
      const found = (await page.evaluate(
        "axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }).then((r) => r.violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target.join(' ')) })))",
      )) as { id: string; targets: string[] }[];
      return found;
    };
    for (const colorScheme of ['light', 'dark'] as const) {
      // axe is injected as an inline script, which the page's own policy rightly refuses.
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme, bypassCSP: true });
      const page = await context.newPage();
      try {
        await page.goto(`${stack.apiUrl}/`);
        await page.getByLabel('User name').waitFor();
        expect(await violations(page), `sign in, ${colorScheme}`).toEqual([]);
        await page.getByLabel('User name').fill(USER);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await runTask(page, 'add', (p) => p.getByLabel('Integers').fill('1 2 3'));
        await page.locator('.answer [data-state="SUCCESS"]').waitFor();
        await page.locator('tbody tr').first().waitFor();
        expect(await violations(page), `tasks, ${colorScheme}`).toEqual([]);
        await page.locator('.answer a').first().click();
        await page.locator('article.task[data-state="SUCCESS"]').waitFor();
        expect(await violations(page), `a task, ${colorScheme}`).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it('opens /docs from the page’s link already authorized with the tab’s token', async () => {
    const { context, page } = await open();
    try {
      await signIn(page);
      await page.getByText(`Signed in as ${USER}`).waitFor();
      await page.getByRole('link', { name: 'API docs' }).click();
      const operation = page.locator('#operations-tasks-submitTask');
      await operation.waitFor();
      await operation.locator('.opblock-summary-control').click();
      await operation.locator('.btn.execute').click();
      const status = operation.locator('.live-responses-table tbody .response-col_status');
      await status.waitFor({ timeout: 15_000 });
      expect((await status.textContent())!.trim()).toBe('200');
    } finally {
      await context.close();
    }
  });

  it('leaves a plain link to /openapi.json on /docs when scripts do not run', async () => {
    const { context, page } = await open({ javaScriptEnabled: false });
    try {
      await page.goto(`${stack.apiUrl}/docs`);
      const link = page.locator('#fallback a');
      expect(await link.isVisible()).toBe(true);
      expect(await link.getAttribute('href')).toBe('/openapi.json');
    } finally {
      await context.close();
    }
  });
});
