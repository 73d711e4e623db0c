import { FLOOR_PATH } from './floor.ts';
import type { Call, LoopbackClient, Outcome } from './load.ts';

interface TaskAnswer {
  readonly id?: string;
  readonly state?: string;
  readonly result?: unknown;
}

/** The measured operations. Each checks the answer: a wrong sum is an error, not a fast request. */
export function operations(call: Call) {
  const addBody = (index: number) => ({ name: 'add', args: [index, 1] });
  const expectSum = (index: number, status: number, text: string, path: string): Outcome => {
    if (status !== 200) return { ok: false, error: `${path} answered ${status}: ${text.slice(0, 120)}` };
    const task = JSON.parse(text) as TaskAnswer;
    if (task.state !== 'SUCCESS' || task.result !== index + 1) {
      return { ok: false, error: `${path} answered ${task.state} with ${JSON.stringify(task.result)}, expected SUCCESS with ${index + 1}` };
    }
    return { ok: true };
  };
  return {
    /** POST /tasks add, measured until the 200 with the sum arrives. */
    sync: async (index: number): Promise<Outcome> => {
      const answer = await call('POST', '/tasks', addBody(index));
      return expectSum(index, answer.status, answer.body, 'POST /tasks');
    },
    /** The same add computed inline by the floor function: same server, same auth, no queue, no store. */
    floor: async (index: number): Promise<Outcome> => {
      const answer = await call('POST', FLOOR_PATH, addBody(index));
      return expectSum(index, answer.status, answer.body, `POST ${FLOOR_PATH}`);
    },
    /** POST ?wait=0 (202), then GET ?wait=5 until SUCCESS, measured from the POST to the SUCCESS. */
    deferred: async (index: number, onLookup: () => void): Promise<Outcome> => {
      const posted = await call('POST', '/tasks?wait=0', addBody(index));
      if (posted.status !== 202) return { ok: false, error: `POST /tasks?wait=0 answered ${posted.status}, expected 202` };
      const { id } = JSON.parse(posted.body) as TaskAnswer;
      // Five long polls of up to 5 s: a task that needs more is an error of the deferred path.
      for (let lookup = 0; lookup < 5; lookup += 1) {
        onLookup();
        const answer = await call('GET', `/tasks/${id}?wait=5`);
        const task = answer.status === 200 ? (JSON.parse(answer.body) as TaskAnswer) : undefined;
        if (task?.state === 'SUCCESS' || answer.status !== 200) return expectSum(index, answer.status, answer.body, 'GET /tasks/<id>');
      }
      return { ok: false, error: `task ${id} did not succeed within 5 lookups of 5 s` };
    },
  };
}

export async function login(client: LoopbackClient, user: { username: string; password: string }): Promise<string> {
  const answer = await client.send('POST', '/auth/token', { body: user });
  if (answer.status !== 200) throw new Error(`POST /auth/token answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { token: string }).token;
}
