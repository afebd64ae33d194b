// Entry point: the router, the header (search box, account menu, language
// switch) and page lifecycle. A page is an async function (ctx) that fills
// ctx.main and may return a cleanup function (the chat uses it to close its
// socket when you navigate away).
import { h, clear, avatar, toast } from './dom.js';
import { t, applyStatic, setLang, getLang } from './i18n.js';
import * as session from './session.js';
import { boardPage } from './pages/board.js';
import { postPage } from './pages/post.js';
import { writePage } from './pages/write.js';
import { loginPage, signupPage } from './pages/auth.js';
import { profilePage, profileEditPage, userPage } from './pages/profile.js';
import { friendsPage } from './pages/friends.js';
import { roomPage } from './pages/room.js';
import { myRoomsPage } from './myrooms.js';
import * as notifications from './notifications.js';
import { dmPage } from './dm.js';
import { reportsPage } from './pages/reports.js';

const routes = [
  [/^\/$/, boardPage],
  [/^\/login\/?$/, loginPage],
  [/^\/signup\/?$/, signupPage],
  [/^\/write\/?$/, writePage],
  [/^\/posts\/(\d+)\/edit\/?$/, writePage],
  [/^\/posts\/(\d+)\/?$/, postPage],
  [/^\/profile\/?$/, profilePage],
  [/^\/profile\/edit\/?$/, profileEditPage],
  [/^\/users\/(\d+)\/?$/, userPage],
  [/^\/friends\/?$/, friendsPage],
  [/^\/rooms\/(\d+)\/?$/, roomPage],
  [/^\/rooms\/?$/, myRoomsPage],
  [/^\/dm\/(\d+)\/?$/, dmPage],
  [/^\/reports\/?$/, reportsPage],
];

const main = document.getElementById('main');
let cleanup = null;
let renderSeq = 0;

// Scroll positions and page state (the board's loaded pages) are kept per
// history entry: a new page starts at the top, Back and Forward come back to
// where the reader was, with what they had loaded. The browser's own
// restoration would jump before the page has rendered its content.
history.scrollRestoration = 'manual';
const pageStates = new Map(); // history entry key → state a page saved
let keySeq = 0;
const newKey = () => `${Date.now().toString(36)}-${(keySeq++).toString(36)}`;
const entryKey = () => {
  if (!history.state?.key) history.replaceState({ ...history.state, key: newKey() }, '');
  return history.state.key;
};

function rememberScroll() {
  entryKey();
  history.replaceState({ ...history.state, y: window.scrollY }, '');
}

/** navigate moves to url inside the app (history.pushState) and renders it. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState({ key: newKey() }, '', url);
  else { rememberScroll(); history.pushState({ key: newKey() }, '', url); }
  return render({ restore: false });
}

async function render({ restore = false } = {}) {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  closeMenu();
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  const input = document.getElementById('search-input');
  if (input) input.value = path === '/' ? (query.get('search') || '') : '';
  let page = notFoundPage;
  let params = [];
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) { page = fn; params = m.slice(1); break; }
  }
  clear(main);
  main.setAttribute('aria-busy', 'true');
  delete main.dataset.ready;
  const key = entryKey();
  const ctx = {
    main, params, query, navigate, isCurrent: () => seq === renderSeq,
    // saved is what this page stored for this history entry (on Back), save stores it.
    saved: restore ? pageStates.get(key) : undefined,
    save: (state) => { if (seq === renderSeq) pageStates.set(key, state); },
  };
  try {
    const c = await page(ctx);
    if (seq !== renderSeq) { if (typeof c === 'function') c(); return; }
    cleanup = typeof c === 'function' ? c : null;
  } catch (err) {
    console.error(err);
    if (seq === renderSeq) { clear(main); main.append(errorBox(err)); }
  } finally {
    // data-ready tells tests (and anyone watching) that the page has rendered.
    if (seq === renderSeq) {
      window.scrollTo(0, restore ? (history.state?.y || 0) : 0);
      main.removeAttribute('aria-busy');
      main.dataset.ready = location.pathname;
    }
  }
}

/** errorBox is the generic failure panel. */
export function errorBox(err) {
  const msg = err && err.status && err.status < 500 && err.message ? err.message : t('common.error');
  return h('div', { class: 'empty-state' }, h('p', {}, msg), h('a', { href: '/', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('common.home')));
}

function notFoundPage({ main }) {
  document.title = `404 · Cobra Space`;
  main.append(h('div', { class: 'empty-state' }, h('h1', {}, '404'), h('p', {}, t('common.notfound')),
    h('a', { href: '/', class: 'btn btn-primary', attrs: { 'data-link': '' } }, t('common.home'))));
}

// Same-origin links navigate inside the app unless they point at the API,
// media, or static files, or the user asked for a new tab.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target && a.target !== '_self') return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || /^\/(api|ws|media|static)\//.test(url.pathname)) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => render({ restore: true }));
// A reload keeps the position too (the page state itself is not kept).
window.addEventListener('pagehide', rememberScroll);

document.getElementById('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = document.getElementById('search-input').value.trim();
  navigate(q ? `/?search=${encodeURIComponent(q)}` : '/');
});

const langBtn = document.getElementById('lang-toggle');
langBtn.addEventListener('click', () => {
  setLang(getLang() === 'ko' ? 'en' : 'ko');
  langBtn.textContent = t('lang.other');
  renderHeader(session.current());
  render({ restore: true });
});

// ---- header account area ----
const actions = document.getElementById('header-actions');
let menuOpen = false;

function closeMenu() {
  const menu = document.getElementById('account-menu');
  const btn = document.getElementById('account-btn');
  if (menu) menu.hidden = true;
  if (btn) btn.setAttribute('aria-expanded', 'false');
  menuOpen = false;
}

function renderHeader(me) {
  clear(actions);
  if (!me) {
    actions.append(
      h('a', { href: '/login', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('auth.login')),
      h('a', { href: '/signup', class: 'btn btn-primary', attrs: { 'data-link': '' } }, t('auth.signup')));
    return;
  }
  const btn = h('button', {
    type: 'button', id: 'account-btn', class: 'account-btn',
    attrs: { 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'account-menu', 'aria-label': t('menu.open') },
  }, avatar(me.profile_picture_url, me.nickname || me.email, 'sm'), h('span', { class: 'account-name' }, me.nickname || me.email));
  const item = (label, props) => h(props.href ? 'a' : 'button', { class: 'menu-item', attrs: { role: 'menuitem', ...(props.href ? { 'data-link': '' } : {}) }, ...props }, label);
  const menu = h('div', { id: 'account-menu', class: 'menu', hidden: true, attrs: { role: 'menu' } },
    h('div', { class: 'menu-head' }, h('strong', {}, me.nickname || ''), h('span', {}, me.email)),
    item(t('board.write'), { href: '/write' }),
    item(t('menu.profile'), { href: '/profile' }),
    item(t('menu.friends'), { href: '/friends' }),
    item(t('rooms.title'), { href: '/rooms' }),
    me.is_staff ? item(t('reports.title'), { href: '/reports' }) : null,
    item(t('auth.logout'), { type: 'button', id: 'logout-btn', onclick: doLogout }));
  btn.addEventListener('click', () => {
    menuOpen = !menuOpen;
    menu.hidden = !menuOpen;
    btn.setAttribute('aria-expanded', String(menuOpen));
    if (menuOpen) menu.querySelector('.menu-item')?.focus();
  });
  menu.addEventListener('keydown', (e) => {
    const items = [...menu.querySelectorAll('.menu-item')];
    const i = items.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length].focus(); }
    if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    if (e.key === 'Escape') { closeMenu(); btn.focus(); }
  });
  actions.append(h('a', { href: '/write', class: 'btn btn-primary btn-write', attrs: { 'data-link': '' } }, t('board.write')), notifications.bell(), h('div', { class: 'account' }, btn, menu));
}

document.addEventListener('click', (e) => { if (menuOpen && !e.target.closest('.account')) closeMenu(); });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && menuOpen) closeMenu(); });

async function doLogout() {
  closeMenu();
  // Close the page (and its chat socket) before the session goes away.
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  await session.logout();
  toast(t('auth.loggedout'), 'success');
  navigate('/login', { replace: true });
}

session.onChange((me) => {
  renderHeader(me);
  if (me) notifications.start(me, navigate); else notifications.stop();
});

async function start() {
  applyStatic();
  langBtn.textContent = t('lang.other');
  try { await session.load(); } catch { session.set(null); }
  renderHeader(session.current());
  await render({ restore: true });
}
start();
