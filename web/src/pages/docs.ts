// `/docs`: the API's reference, rendered by Swagger UI from the server's own OpenAPI document
// (bundled here, so the page needs nothing from outside the server).

import "swagger-ui-dist/swagger-ui.css";

import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-es-bundle.js";

SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  // "Try it out" sends the key or token given under "Authorize" as a Bearer header.
  persistAuthorization: false,
  tryItOutEnabled: false,
  // Nothing leaves the server: no badge from the public validator.
  validatorUrl: "none",
});
