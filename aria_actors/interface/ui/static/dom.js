// DOM helpers. Every piece of data reaches the page as text (textContent, attribute values set
// one by one), never as markup: a character named "<img src=x onerror=...>" shows those characters.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clone(templateId) {
  const tpl = document.getElementById(templateId);
  return tpl.content.firstElementChild.cloneNode(true);
}

export function byId(root, id) {
  return root.querySelector(`#${id}`);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function setText(node, text) {
  node.textContent = text === null || text === undefined ? "" : String(text);
  return node;
}

export function announce(text) {
  const region = document.getElementById("announce");
  // replacing the text (not appending) keeps screen readers to the newest message
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}
