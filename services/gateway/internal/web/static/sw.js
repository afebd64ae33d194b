// Service worker of the web client: shows the notifications the server
// pushes (Web Push) while no page of the user's is open, and opens the room
// on a click. Served at /sw.js (scope /) with no-cache, so an update reaches
// browsers on their next check. It handles no fetches: the app works the
// same with or without it.
'use strict';

const texts = {
  ko: { mention: '{actor}님이 회원님을 언급했습니다', reply: '{actor}님이 답장했습니다', dm: '{actor}님의 새 메시지',
    friend: '{actor}님이 회원님을 친구로 추가했습니다', other: '새 알림' },
  en: { mention: '{actor} mentioned you', reply: '{actor} replied to you', dm: 'New message from {actor}',
    friend: '{actor} added you as a friend', other: 'New notification' },
};

// The page registers /sw.js?lang=<its language> (js/push.js): a worker
// cannot read the page's choice, and the browser's own language may differ.
const lang = new URL(self.location.href).searchParams.get('lang') === 'en' ? 'en' : 'ko';

function title(n) {
  const s = texts[lang][n.kind] || texts[lang].other;
  return s.replace('{actor}', n.actor || '?');
}

// Only same-origin paths are opened: the payload comes from our server, but
// a click must never lead elsewhere whatever it says.
function safeURL(u) {
  try {
    const url = new URL(u || '/', self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + '/';
  } catch { return self.location.origin + '/'; }
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let n = {};
  try { n = event.data ? event.data.json() : {}; } catch { n = {}; }
  // One notification per room on screen: a newer one replaces it.
  const tag = n.room ? `room-${n.room}` : `n-${n.id || 0}`;
  event.waitUntil(self.registration.showNotification(title(n), {
    body: n.excerpt || '', tag, renotify: true, data: { url: safeURL(n.url), id: n.id },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url ? event.notification.data.url : safeURL('/');
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (new URL(w.url).origin !== self.location.origin) continue;
      const focused = await w.focus();
      if (w.url === url) return;
      try { await focused.navigate(url); return; } catch { /* not controlled yet: open a window instead */ }
    }
    await self.clients.openWindow(url);
  })());
});

// The push service replaced the subscription (expiry, key rotation):
// subscribe again with the same server key and tell the server, with the
// session cookie, as the page would.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    const sub = event.newSubscription || (old && await self.registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: old.options.applicationServerKey,
    }));
    const call = (method, body) => fetch('/api/notifications/push/', {
      method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (sub) await call('POST', sub.toJSON());
    if (old && (!sub || old.endpoint !== sub.endpoint)) await call('DELETE', { endpoint: old.endpoint });
  })());
});
