// Starts Swagger UI on the document named by <body data-spec-url> (a file, not an inline script,
// so `script-src 'self'` holds). Try-it-out calls go to this origin with the token given under
// "Authorize" (bearerAuth); the token stays in this tab's memory (not persisted).
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.specUrl,
    dom_id: '#swagger-ui',
    deepLinking: true,
    // Every operation opens with its "Try it out" form ready.
    tryItOutEnabled: true,
    displayRequestDuration: true,
    persistAuthorization: false,
    // Never send the document to validator.swagger.io (no third-party requests).
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
