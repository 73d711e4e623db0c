// /docs: Swagger UI from this deployment's own files, rendering /openapi.json. A token from the page
// (the same tab's sessionStorage) authorizes it at once; otherwise the document says how.
interface SwaggerUi {
  preauthorizeApiKey(name: string, value: string): void;
}
declare const SwaggerUIBundle: ((options: Record<string, unknown>) => SwaggerUi) | undefined;

const fallback = document.getElementById('fallback');
if (typeof SwaggerUIBundle === 'function') {
  const ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    // Swagger UI's online validator would send the document's address to swagger.io.
    validatorUrl: 'none',
    deepLinking: true,
    // "Try it out" is open already: the first click is Execute.
    tryItOutEnabled: true,
    displayRequestDuration: true,
    onComplete: () => {
      if (fallback) fallback.hidden = true;
      const token = sessionStorage.getItem('doozer.token');
      if (token) ui.preauthorizeApiKey('bearerAuth', token);
    },
  });
}
