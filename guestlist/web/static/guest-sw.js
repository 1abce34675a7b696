// Service worker of the guest page (served as /sw.js, scope /promotor/): the guest's pass opens
// without signal. Online, every request goes to the network as before; only when the network
// fails (or a page takes too long on a bad signal) does an answer come from the caches:
//   guestlist-shell: the guest pages and their static files (no personal data: the page holds the
//     event only); written here, from this device's own successful answers.
//   guestlist-pass: the pass of the guest signed in on this device and its QR image; written and
//     cleared by the page only (guest.js: savePass / forgetPass), never here, so no API answer is
//     ever cached by this worker and a signed-out guest's pass is gone for the next one.
'use strict';

const SHELL = 'guestlist-shell-v1';
const PASS = 'guestlist-pass-v1';
const STATIC_FILES = ['/static/guest.js', '/static/guest.css', '/static/favicon.svg'];
// a page that has not answered after this long on a bad signal: the cached copy is shown
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(STATIC_FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith('guestlist-') && name !== SHELL && name !== PASS)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function isGuestPage(url) {
  return /^\/promotor\/[^/]+\/[^/]+\/?$/.test(url.pathname);
}

// The network's answer, kept in the shell cache when it is a success; the cached copy when the
// network fails or (pages) takes longer than the timeout while a copy exists.
async function networkFirst(request, timeoutMs) {
  const cache = await caches.open(SHELL);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok && response.type === 'basic') cache.put(request, response.clone());
    return response;
  });
  const cached = await cache.match(request, { ignoreSearch: true });
  if (!cached) return fromNetwork;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(cached), timeoutMs));
  return Promise.race([fromNetwork.catch(() => cached), timeout]);
}

// The QR image of the pass this device keeps: from the network when there is one, else (no
// network, or a 5xx) the copy the page stored beside the pass. Other codes are never cached.
async function qrImage(request) {
  const kept = () => caches.open(PASS).then((cache) => cache.match(request, { ignoreSearch: true }));
  try {
    const response = await fetch(request);
    // a server that cannot answer now (restarting, failing over): the kept copy if there is one
    if (response.status >= 500) return (await kept()) || response;
    return response;
  } catch (err) {
    const cached = await kept();
    if (cached) return cached;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && isGuestPage(url)) {
    event.respondWith(networkFirst(request, NAVIGATION_TIMEOUT_MS));
  } else if (STATIC_FILES.includes(url.pathname)) {
    event.respondWith(networkFirst(request, NAVIGATION_TIMEOUT_MS));
  } else if (/^\/api\/guest\/qr\/[0-9a-f]{32}\.svg$/.test(url.pathname)) {
    event.respondWith(qrImage(request));
  }
  // everything else (the API) goes to the network untouched, and is never cached
});
