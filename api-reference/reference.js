// The interactive reference of /v1/openapi.json, drawn by Swagger UI (served from this app, not a CDN).
/* global SwaggerUIBundle */
'use strict';

window.reference = SwaggerUIBundle({
  url: '/v1/openapi.json',
  dom_id: '#reference',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
  filter: true,
  // Keys and tokens stay in memory: never written to localStorage.
  persistAuthorization: false,
  // No call to the public validator (another origin).
  validatorUrl: null,
  tryItOutEnabled: false,
});
