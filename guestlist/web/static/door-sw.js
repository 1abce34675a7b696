// Service worker of the door page (served as /porta-sw.js, scope /porta/): a door that reloads
// its page without signal still opens it, with its camera decoder, and goes on judging scans
// against the list the page keeps in IndexedDB. Online, every request goes to the network; only
// when the network fails (or the page takes too long on a bad signal) does the cached copy
// answer. Cached: the door pages and their static files, from this device's own successful
// answers. Never cached: any API answer (the list, check-ins, the counter go to the network
// untouched; the page keeps what it needs itself).
'use strict';

// Not named guestlist-…: the guest page's worker (guest-sw.js) deletes every guestlist- cache but
// its own when it activates.
const SHELL = 'door-shell-v1';
const STATIC_FILES = ['/static/door.js', '/static/door.css', '/static/favicon.svg', '/vendor/jsQR.js'];
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
            .filter((name) => name.startsWith('door-shell-') && name !== SHELL)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function isDoorPage(url) {
  return /^\/porta\/[A-Za-z0-9_-]+\/?$/.test(url.pathname);
}

// The network's answer, kept when it is a success; the cached copy when the network fails or
// (pages) is slower than the timeout while a copy exists. A refused door link (401) removes the
// page's copy: a revoked door cannot be reopened from the cache.
async function networkFirst(request, timeoutMs) {
  const cache = await caches.open(SHELL);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok && response.type === 'basic') cache.put(request, response.clone());
    else if (response.status === 401 || response.status === 404) cache.delete(request);
    return response;
  });
  const cached = await cache.match(request, { ignoreSearch: true });
  if (!cached) return fromNetwork;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(cached), timeoutMs));
  return Promise.race([fromNetwork.catch(() => cached), timeout]);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if ((request.mode === 'navigate' && isDoorPage(url)) || STATIC_FILES.includes(url.pathname)) {
    event.respondWith(networkFirst(request, NAVIGATION_TIMEOUT_MS));
  }
  // everything else (the API) goes to the network untouched, and is never cached
});
