// Form helpers: labelled fields with an error slot, and showing the API's
// 400 {"field": ["message", ...]} answers next to the fields they name.
import { h, clear } from './dom.js';

/** field builds a labelled control with a hint and an error slot (aria-describedby). */
export function field({ name, label, control, hint }) {
  const id = control.id || `f-${name}`;
  control.id = id;
  control.name = control.name || name;
  const err = h('p', { class: 'field-error', id: `${id}-error`, hidden: true, attrs: { role: 'alert' } });
  const hintEl = hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
  return h('div', { class: 'field', dataset: { field: name } }, h('label', { for: id }, label), control, hintEl, err);
}

/** clearErrors hides every field error in form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; clear(el); }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const general = form.querySelector('.form-error');
  if (general) { general.hidden = true; clear(general); }
}

/**
 * showErrors puts each field's messages under it; messages for fields the form
 * does not have (non_field_errors, detail, …) go to the form-level box.
 * aliases maps API field names to form field names (password1 → password).
 */
export function showErrors(form, errors, aliases = {}) {
  const general = [];
  let first = null;
  for (const [key, value] of Object.entries(errors || {})) {
    const msgs = Array.isArray(value) ? value : [typeof value === 'string' ? value : JSON.stringify(value)];
    const name = aliases[key] || key;
    const wrap = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (!wrap) { general.push(...msgs); continue; }
    const err = wrap.querySelector('.field-error');
    for (const m of msgs) err.append(h('span', {}, String(m)));
    err.hidden = false;
    const control = wrap.querySelector('input, select, textarea');
    if (control) { control.setAttribute('aria-invalid', 'true'); first = first || control; }
  }
  const box = form.querySelector('.form-error');
  if (box && general.length) {
    for (const m of general) box.append(h('span', {}, String(m)));
    box.hidden = false;
  }
  (first || box)?.focus?.();
}

/** formError is the form-level error box (for messages that name no field). */
export const formError = () => h('div', { class: 'form-error', hidden: true, tabIndex: -1, attrs: { role: 'alert' } });

/** busy disables a submit button while a request runs. */
export function busy(button, on) {
  button.disabled = on;
  button.classList.toggle('is-busy', on);
}
