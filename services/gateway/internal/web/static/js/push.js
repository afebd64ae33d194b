// Web Push on this device: a switch on the own profile page that asks for
// notification permission (only when clicked: browsers require a user
// gesture), subscribes with the server's VAPID key and registers the
// subscription with the gateway; the service worker (/sw.js) shows what
// arrives. Push is an extra: the notification list and the live stream
// stay the source of truth.
import { h, toast } from './dom.js';
import { getLang } from './i18n.js';
import { api, ApiError } from './api.js';

const texts = {
  ko: { title: '푸시 알림', hint: '창을 닫아도 멘션, 답장, DM 알림을 이 기기로 받습니다.', on: '켜짐', off: '꺼짐',
    enable: '이 기기에서 켜기', disable: '이 기기에서 끄기', denied: '브라우저에서 알림이 차단되어 있습니다. 사이트 설정에서 허용하세요.',
    unsupported: '이 브라우저는 푸시 알림을 지원하지 않습니다.', unavailable: '이 서버에서는 푸시 알림을 사용할 수 없습니다.',
    failed: '푸시 알림을 설정하지 못했습니다.' },
  en: { title: 'Push notifications', hint: 'Get mentions, replies and DMs on this device even with the tab closed.', on: 'On', off: 'Off',
    enable: 'Turn on for this device', disable: 'Turn off for this device', denied: 'Notifications are blocked in this browser: allow them in the site settings.',
    unsupported: 'This browser does not support push notifications.', unavailable: 'Push notifications are not available on this server.',
    failed: 'Could not set up push notifications.' },
};
const tr = (k) => (texts[getLang()] || texts.ko)[k];

const supported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

/** base64url → bytes, for applicationServerKey. */
function keyBytes(b64) {
  const s = atob(b64.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const sameKey = (a, b) => !!a && a.byteLength === b.byteLength && new Uint8Array(a).every((x, i) => x === b[i]);

/** register (re-)registers the service worker with the page's language. */
const register = () => navigator.serviceWorker.register(`/sw.js?lang=${getLang()}`, { scope: '/' });

async function currentSubscription() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/** enable subscribes this browser and registers it; call from a click. */
export async function enable() {
  // Asked first, still inside the click's user activation.
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('denied');
  const { public_key: key } = await api('/api/notifications/push/key/');
  const reg = await register();
  await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  // A subscription made with another server key (rotated) cannot receive.
  if (sub && !sameKey(sub.options.applicationServerKey, keyBytes(key))) { await sub.unsubscribe(); sub = null; }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api('/api/notifications/push/', { method: 'POST', body: sub.toJSON() });
  return sub;
}

/** forgetDevice unsubscribes this browser (the switch, and logging out: the
 * next user of this browser must not get the last one's notifications). */
export async function forgetDevice() {
  let sub;
  try { sub = await currentSubscription(); } catch { return; }
  if (!sub) return;
  try { await api('/api/notifications/push/', { method: 'DELETE', body: { endpoint: sub.endpoint } }); } catch { /* best effort */ }
  try { await sub.unsubscribe(); } catch { /* already gone */ }
}

/** pushSection renders the switch for the own profile page. */
export function pushSection() {
  const state = h('span', { class: 'muted', id: 'push-state' });
  const button = h('button', { type: 'button', class: 'btn btn-ghost', id: 'push-toggle' });
  const note = h('p', { class: 'muted', id: 'push-note' });
  const section = h('section', { class: 'card push-settings', id: 'push-settings' },
    h('h2', {}, tr('title'), ' ', state), h('p', {}, tr('hint')), button, note);
  let on = false;
  const show = (isOn, msg = '') => {
    on = isOn;
    state.textContent = `(${isOn ? tr('on') : tr('off')})`;
    button.textContent = isOn ? tr('disable') : tr('enable');
    note.textContent = msg;
    section.dataset.state = isOn ? 'on' : 'off';
  };
  if (!supported()) {
    show(false, tr('unsupported'));
    button.disabled = true;
    return section;
  }
  show(false, Notification.permission === 'denied' ? tr('denied') : '');
  (async () => {
    const sub = await currentSubscription();
    // Re-registering is idempotent and repairs a server that dropped it.
    if (sub && Notification.permission === 'granted') {
      await register(); // picks up a language switched since
      await api('/api/notifications/push/', { method: 'POST', body: sub.toJSON() });
      show(true);
    }
  })().catch(() => {}).finally(() => { section.dataset.ready = '1'; });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (on) { await forgetDevice(); show(false); } else { await enable(); show(true); }
    } catch (err) {
      const msg = err instanceof ApiError && err.status === 404 ? tr('unavailable')
        : err.message === 'denied' ? tr('denied') : tr('failed');
      show(false, msg);
      if (!(err instanceof ApiError) && err.message !== 'denied') console.error(err);
      toast(msg, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return section;
}
