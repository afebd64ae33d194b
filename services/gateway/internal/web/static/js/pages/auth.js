// Log in and sign up.
import { h, toast, icon } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import * as session from '../session.js';
import { field, clearErrors, showErrors, formError, busy } from '../form.js';

function authShell(title, sub, form, foot) {
  return h('div', { class: 'auth-wrap' },
    h('section', { class: 'auth-card card' },
      h('div', { class: 'auth-logo', attrs: { 'aria-hidden': 'true' } }, icon('logo')),
      h('h1', {}, title), h('p', { class: 'muted' }, sub), form, h('p', { class: 'auth-foot' }, foot)));
}

// Only paths inside the app are followed after login (no open redirect).
const safeNext = (q) => { const n = q.get('next') || '/'; return /^\/(?!\/)/.test(n) ? n : '/'; };

/** loginPage renders /login. */
export function loginPage({ main, query, navigate }) {
  document.title = `${t('auth.login')} · Cobra Space`;
  if (session.current()) { navigate(safeNext(query), { replace: true }); return; }
  const email = h('input', { type: 'email', autocomplete: 'username', required: true, value: query.get('email') || '' });
  const password = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.login'));
  const form = h('form', { class: 'form', id: 'login-form', noValidate: true },
    formError(),
    field({ name: 'email', label: t('field.email'), control: email }),
    field({ name: 'password', label: t('field.password'), control: password }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    busy(submit, true);
    try {
      const res = await session.login(email.value.trim(), password.value);
      toast(t('login.welcome', { name: session.current()?.nickname || res.profile?.nickname || '' }), 'success');
      navigate(safeNext(query), { replace: true });
    } catch (err) {
      if (!(err instanceof ApiError)) { showErrors(form, { detail: [t('err.network')] }); return; }
      if (err.status === 429) showErrors(form, { detail: [t('login.throttled')] });
      else if (err.status === 400 && Object.keys(err.fields).length) showErrors(form, err.fields);
      else showErrors(form, { detail: [err.message] });
    } finally { busy(submit, false); }
  });
  main.append(authShell(t('login.title'), t('login.sub'), form,
    [t('login.noaccount'), ' ', h('a', { href: '/signup', attrs: { 'data-link': '' } }, t('auth.signup'))]));
  (email.value ? password : email).focus();
}

/** signupPage renders /signup. */
export function signupPage({ main, navigate }) {
  document.title = `${t('auth.signup')} · Cobra Space`;
  const email = h('input', { type: 'email', autocomplete: 'email', required: true });
  const nickname = h('input', { type: 'text', autocomplete: 'nickname', maxLength: 20 });
  const password1 = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const password2 = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.signup'));
  const form = h('form', { class: 'form', id: 'signup-form', noValidate: true },
    formError(),
    field({ name: 'email', label: t('field.email'), control: email }),
    field({ name: 'nickname', label: t('field.nickname'), control: nickname, hint: t('field.nickname.hint') }),
    field({ name: 'password1', label: t('field.password'), control: password1 }),
    field({ name: 'password2', label: t('field.password2'), control: password2 }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (password1.value !== password2.value) { showErrors(form, { password2: [t('signup.mismatch')] }); return; }
    busy(submit, true);
    const body = { email: email.value.trim(), password1: password1.value, password2: password2.value };
    if (nickname.value.trim()) body.nickname = nickname.value.trim();
    try {
      await api('/api/user/registration/', { method: 'POST', body });
      toast(t('signup.done'), 'success');
      navigate(`/login?email=${encodeURIComponent(body.email)}`, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) showErrors(form, err.fields, { password: 'password1' });
      else showErrors(form, { detail: [err instanceof ApiError ? err.message : t('err.network')] });
    } finally { busy(submit, false); }
  });
  main.append(authShell(t('signup.title'), t('signup.sub'), form,
    [t('signup.hasaccount'), ' ', h('a', { href: '/login', attrs: { 'data-link': '' } }, t('auth.login'))]));
  email.focus();
}
