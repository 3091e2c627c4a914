// DOM helpers: every value becomes a text node or an attribute, never HTML (values from Heap stay inert).

/**
 * h('a', { href: '#/x', class: 'link', onclick: fn }, 'text', child) builds an element. Strings
 * are added with createTextNode; there is deliberately no way to pass markup.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    // Through CSSOM, which the page's CSP allows (style attributes it does not).
    else if (key === 'style') {
      for (const [property, v] of Object.entries(value)) el.style.setProperty(property, v);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's content. */
export function show(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function card(title, hint, ...body) {
  return h(
    'section',
    { class: 'card' },
    h(
      'div',
      { class: 'card-head' },
      h('h2', null, title),
      hint ? h('span', { class: 'hint' }, hint) : null,
    ),
    ...body,
  );
}

export function tile(label, value, detail) {
  return h(
    'div',
    { class: 'card tile' },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    detail ? h('div', { class: 'detail' }, detail) : null,
  );
}

/** A table: columns are { label, num?, narrow? }, rows are arrays of cells (nodes or text) or { cells, onclick }. */
export function table(columns, rows, options = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-table': options.name },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map((c) =>
            h(
              'th',
              { class: [c.num ? 'num' : '', c.narrow ? 'narrow' : ''].join(' ').trim() || null },
              c.label,
            ),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((row) => {
          const cells = Array.isArray(row) ? row : row.cells;
          return h(
            'tr',
            { class: row.onclick ? 'link' : null, onclick: row.onclick, dataset: row.dataset },
            cells.map((cell, i) => h('td', { class: columns[i]?.num ? 'num' : null }, cell)),
          );
        }),
      ),
    ),
  );
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind}` }, text);
}

export function emptyState(message, ...actions) {
  return h('div', { class: 'empty' }, h('p', null, message), ...actions);
}
