// Starts Swagger UI on /docs over the admin API's OpenAPI document (same origin: cookies and CSRF apply).
/* global SwaggerUIBundle */
SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger',
  deepLinking: true,
  persistAuthorization: false,
});
