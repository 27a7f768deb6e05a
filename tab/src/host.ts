/**
 * Everything that talks to the Teams / Outlook / Microsoft 365 host lives here, so moving to the
 * Teams SDK later touches one file.
 */
import { app, authentication } from '@microsoft/teams-js';

export type ThemeName = 'default' | 'dark' | 'contrast';

export interface HostInfo {
  /** True inside Teams, Outlook or the Microsoft 365 app. */
  inHost: boolean;
  theme: ThemeName;
  /** e.g. Teams, Outlook, Office — for display only. */
  hostName?: string;
  /** The deep link's subEntityId (a reconnect campaign's nudge carries one). */
  subPageId?: string;
}

/** How long to wait for the host handshake before deciding we are in a plain browser. */
export const HOST_TIMEOUT_MS = 1500;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => resolve('timeout'), ms);
    promise.then(
      (v) => {
        window.clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        window.clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function toThemeName(theme: string | undefined): ThemeName {
  return theme === 'dark' ? 'dark' : theme === 'contrast' ? 'contrast' : 'default';
}

/** Outside a host, follow the operating system: dark mode and forced colours. */
export function browserTheme(): ThemeName {
  if (typeof window.matchMedia !== 'function') return 'default';
  if (window.matchMedia('(forced-colors: active)').matches) return 'contrast';
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'default';
}

let initialised: Promise<boolean> | undefined;

/**
 * `app.initialize()` rejects at once in a top-level window and never settles inside a foreign
 * iframe, so race it with a timeout; both mean "not in a host".
 */
export function initializeHost(timeoutMs = HOST_TIMEOUT_MS): Promise<boolean> {
  initialised ??= withTimeout(app.initialize(), timeoutMs).then(
    (r) => r !== 'timeout',
    () => false,
  );
  return initialised;
}

export async function detectHost(timeoutMs = HOST_TIMEOUT_MS): Promise<HostInfo> {
  const inHost = await initializeHost(timeoutMs);
  if (!inHost) return { inHost: false, theme: browserTheme() };
  try {
    const context = await app.getContext();
    return {
      inHost: true,
      theme: toThemeName(context.app.theme),
      hostName: context.app.host?.name,
      ...(context.page.subPageId ? { subPageId: context.page.subPageId } : {}),
    };
  } catch {
    return { inHost: true, theme: 'default' };
  }
}

/** Calls `handler` whenever the theme changes (host theme inside a host, OS theme outside). */
export function onThemeChange(inHost: boolean, handler: (theme: ThemeName) => void): () => void {
  if (inHost) {
    app.registerOnThemeChangeHandler((theme) => handler(toThemeName(theme)));
    return () => undefined;
  }
  if (typeof window.matchMedia !== 'function') return () => undefined;
  const queries = [window.matchMedia('(prefers-color-scheme: dark)'), window.matchMedia('(forced-colors: active)')];
  const listener = () => handler(browserTheme());
  for (const q of queries) q.addEventListener('change', listener);
  return () => {
    for (const q of queries) q.removeEventListener('change', listener);
  };
}

/** The Teams SSO token for our API (the host caches and refreshes it). */
export function getSsoToken(): Promise<string> {
  return authentication.getAuthToken();
}

/** Opens the consent popup; resolves on notifySuccess, rejects with the failure reason (an error code). */
export async function openAuthPopup(url: string): Promise<void> {
  await authentication.authenticate({ url: new URL(url, window.location.href).toString(), width: 600, height: 535 });
}

export function notifyAuthSuccess(): void {
  authentication.notifySuccess();
}

export function notifyAuthFailure(reason: string): void {
  authentication.notifyFailure(reason);
}
