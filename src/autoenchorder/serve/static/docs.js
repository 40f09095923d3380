// A small local viewer of /openapi.json: every operation, its parameters and answers.
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function schemaFields(spec, body) {
  const content = body && body.content && Object.values(body.content)[0];
  let schema = content && content.schema;
  if (schema && schema.$ref) schema = schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
  return schema && schema.properties ? Object.entries(schema.properties).map(([k, v]) => k + " (" + (v.format || v.type || "value") + ")" + (v.description ? ": " + v.description : "")) : [];
}

document.addEventListener("DOMContentLoaded", async () => {
  const spec = await (await fetch("/openapi.json")).json();
  const main = document.getElementById("endpoints");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const section = el("section");
      section.appendChild(el("h2", method.toUpperCase() + " " + path));
      if (op.summary) section.appendChild(el("p", op.summary));
      if (op.description) section.appendChild(el("p", op.description, "muted"));
      const params = (op.parameters || []).map((p) => p.name + " (" + p.in + ")" + (p.description ? ": " + p.description : ""));
      const fields = schemaFields(spec, op.requestBody);
      for (const [title, items] of [["parameters", params], ["form fields", fields]]) {
        if (!items.length) continue;
        section.appendChild(el("h3", title));
        const ul = el("ul");
        items.forEach((t) => ul.appendChild(el("li", t)));
        section.appendChild(ul);
      }
      section.appendChild(el("h3", "answers"));
      const ul = el("ul");
      Object.entries(op.responses || {}).forEach(([code, r]) => ul.appendChild(el("li", code + ": " + (r.description || ""))));
      section.appendChild(ul);
      main.appendChild(section);
    }
  }
});
