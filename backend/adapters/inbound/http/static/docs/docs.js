// Renders the OpenAPI document of this server as a browsable list of operations.
"use strict";

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, value));
  (children || []).forEach((child) =>
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child));
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return { name, schema: spec.components.schemas[name] };
  }
  return { name: "", schema };
}

function schemaBlock(spec, schema) {
  const found = resolve(spec, schema);
  return el("details", {}, [
    el("summary", {}, [found.name || "schema"]),
    el("pre", {}, [JSON.stringify(found.schema, null, 2)]),
  ]);
}

function parametersTable(params) {
  const rows = params.map((p) => el("tr", {}, [
    el("td", {}, [p.name]), el("td", {}, [p.in]), el("td", {}, [p.required ? "yes" : "no"]),
    el("td", {}, [p.description || JSON.stringify(p.schema || {})]),
  ]));
  const head = el("tr", {}, ["name", "in", "required", "description"].map((h) => el("th", {}, [h])));
  return el("table", {}, [head, ...rows]);
}

function responsesTable(spec, responses) {
  const rows = Object.entries(responses).map(([status, response]) => {
    const content = response.content || {};
    const media = Object.keys(content)[0];
    const cell = media ? [media, schemaBlock(spec, content[media].schema)] : ["(no body)"];
    return el("tr", {}, [el("td", {}, [status]), el("td", {}, [response.description || ""]),
      el("td", {}, cell)]);
  });
  return el("table", {}, rows);
}

function operationCard(spec, path, method, op) {
  const id = op.operationId || method + path;
  const title = el("h2", { id }, [
    el("span", { class: "method " + method }, [method]), el("span", { class: "path" }, [path]),
  ]);
  if (op.security) title.appendChild(el("span", { class: "lock" }, ["bearer token"]));
  const parts = [title, el("p", {}, [op.summary || ""])];
  if (op.parameters) parts.push(el("h3", {}, ["Parameters"]), parametersTable(op.parameters));
  if (op.requestBody) {
    const body = op.requestBody.content["application/json"];
    parts.push(el("h3", {}, ["Request body"]), schemaBlock(spec, body.schema));
  }
  parts.push(el("h3", {}, ["Responses"]), responsesTable(spec, op.responses));
  return el("section", { class: "op" }, parts);
}

function render(spec) {
  const main = document.getElementById("operations");
  const toc = document.getElementById("toc");
  main.textContent = "";
  if (spec.info && spec.info.description) main.appendChild(el("p", {}, [spec.info.description]));
  Object.entries(spec.paths).forEach(([path, operations]) => {
    Object.entries(operations).forEach(([method, op]) => {
      main.appendChild(operationCard(spec, path, method, op));
      toc.appendChild(el("a", { href: "#" + (op.operationId || method + path) },
        [method.toUpperCase() + " " + path]));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  fetch(document.body.dataset.specUrl)
    .then((response) => response.json())
    .then(render)
    .catch((error) => {
      document.getElementById("operations").textContent = "Could not load the API document: " + error;
    });
});
