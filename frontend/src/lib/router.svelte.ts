// Client-side routing on the history API: the path is reactive state, links are ordinary <a href>.

export const route = $state({ path: window.location.pathname, search: window.location.search });

function sync(): void {
  route.path = window.location.pathname;
  route.search = window.location.search;
}

window.addEventListener('popstate', sync);

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  sync();
  window.scrollTo?.(0, 0);
}

/** onclick for in-app <a href="/...">: navigate without a page load, unless the person asked for a new tab. */
export function followLink(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || anchor.target) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href') ?? '/');
}

export function queryParam(name: string): string | null {
  return new URLSearchParams(route.search).get(name);
}

/** "/accounts/abc" against "/accounts/:id" → { id: "abc" }, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}
