// The API docs page (/docs): Swagger UI over /openapi.json. A served file, not an inline
// script, so the page keeps the strict Content-Security-Policy; writes sent with "Try it out"
// carry the page's CSRF token as the dashboard's do.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const token = document.querySelector('meta[name="kedge-csrf"]').content;
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    requestInterceptor: function (request) {
      request.headers["X-Kedge-CSRF"] = token;
      return request;
    },
  });
});
