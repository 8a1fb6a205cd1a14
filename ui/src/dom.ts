// A tiny DOM builder. Text always goes in as text nodes; there is deliberately
// no way to pass HTML (no innerHTML, no style attributes: the CSP forbids them).

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (event: never) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

const FORBIDDEN = new Set(["innerHTML", "outerHTML", "style", "srcdoc"]);

function applyProps(el: Element, props: Props): void {
  for (const [key, value] of Object.entries(props)) {
    if (FORBIDDEN.has(key)) throw new Error(`h(): "${key}" is not allowed`);
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      if (!key.startsWith("on")) throw new Error(`h(): handler "${key}" must start with "on"`);
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key.startsWith("on")) {
      // Never turn a string into an inline handler.
      throw new Error(`h(): "${key}" must be a function`);
    } else if (key === "value" && "value" in el) {
      continue; // set after children, so a <select> has its options first
    } else if (key === "testid") {
      el.setAttribute("data-testid", String(value));
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** h("button", { class: "primary", testid: "send", onclick }, "Send") */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) applyProps(el, props);
  append(el, children);
  if (props && props.value !== undefined && props.value !== null && "value" in el) {
    (el as HTMLInputElement).value = String(props.value);
  }
  return el;
}

/** Replaces all children of `el`. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

// ----- Icons: inline SVG built as elements (no markup strings, no image loads) -----

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  send: "M12 19V5M5 12l7-7 7 7",
  stop: "M7 7h10v10H7z",
  plus: "M12 5v14M5 12h14",
  edit: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  export: "M12 3v12M7 10l5 5 5-5M4 21h16",
  folder: "M3 6h6l2 2h10v11H3z",
  left: "M15 18l-6-6 6-6",
  right: "M9 18l6-6-6-6",
  close: "M6 6l12 12M18 6L6 18",
  check: "M5 12l5 5L20 7",
  alert: "M12 3l10 18H2zM12 10v5M12 18v.5",
  info: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v6M12 7.5v.5",
  search: "M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM21 21l-5-5",
  chat: "M4 5h16v11H9l-5 4z",
  library: "M5 4h4v16H5zM11 4h4v16h-4zM16 5l3.5-1 3 15-3.5 1z",
  models: "M7 7h10v10H7zM10 3v4M14 3v4M10 17v4M14 17v4M3 10h4M3 14h4M17 10h4M17 14h4",
  settings: "M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0M14 4v4M8 10v4M16 16v4",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
} as const;
export type IconName = keyof typeof ICONS;

export function icon(name: IconName): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}
