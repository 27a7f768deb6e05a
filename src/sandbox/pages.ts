/** HTML of the sandbox sign-in pages, shaped like Microsoft's (account picker, consent, errors). */
import type { AadError } from './aad-errors';
import type { AuthRequest, SandboxContext } from './context';
import { escapeHtml as h } from './http';
import { SCOPE_DESCRIPTIONS, isOidcScope } from './permissions';
import type { ConsentDecision } from './seed';
import type { AppRegistration, UserState } from './state';

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;font-family:"Segoe UI","Segoe UI Web",-apple-system,BlinkMacSystemFont,Roboto,"Helvetica Neue",sans-serif;background:#f2f2f2;color:#1b1b1b}
  .banner{background:#fff4ce;color:#5d4200;font-size:13px;padding:8px 16px;text-align:center;border-bottom:1px solid #f0d78c}
  main{max-width:440px;margin:48px auto;background:#fff;box-shadow:0 2px 6px rgba(0,0,0,.2);padding:44px}
  .brand{font-weight:600;font-size:15px;color:#505050;margin-bottom:16px;letter-spacing:.02em}
  h1{font-size:24px;font-weight:600;margin:0 0 16px}
  p{font-size:15px;line-height:1.45;margin:0 0 12px}
  .muted{color:#605e5c;font-size:13px}
  form{margin:0}
  .account{display:flex;align-items:center;width:100%;gap:12px;border:0;border-top:1px solid #edebe9;background:none;padding:12px 4px;text-align:left;cursor:pointer;font:inherit}
  .account:hover,.account:focus{background:#f3f2f1;outline:none}
  .account:focus-visible{outline:2px solid #0067b8}
  .avatar{flex:none;width:40px;height:40px;border-radius:50%;background:#0067b8;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:600}
  .who{display:flex;flex-direction:column;min-width:0}
  .who b{font-weight:600;font-size:15px}
  .who span{font-size:13px;color:#605e5c;overflow:hidden;text-overflow:ellipsis}
  .who i{font-size:12px;color:#8a8886;font-style:normal}
  ul.perms{padding:0;margin:8px 0 16px;list-style:none}
  ul.perms li{padding:8px 0;border-bottom:1px solid #edebe9;font-size:15px}
  ul.perms li small{display:block;color:#605e5c;font-size:12px}
  ul.perms li.denied{color:#a4262c}
  .buttons{display:flex;justify-content:flex-end;gap:8px;margin-top:24px}
  button.primary,button.secondary{min-width:108px;padding:6px 12px;font:inherit;font-size:15px;border:1px solid transparent;cursor:pointer}
  button.primary{background:#0067b8;color:#fff}
  button.primary:hover{background:#005da6}
  button.secondary{background:#ccc;color:#000}
  button.secondary:hover{background:#b3b3b3}
  .app{display:flex;gap:12px;align-items:center;margin-bottom:12px}
  .appicon{width:48px;height:48px;background:#6264a7;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:700;border-radius:4px}
  .unverified{font-size:12px;color:#605e5c}
  .code{font-family:Consolas,monospace;font-size:12px;background:#f3f2f1;padding:8px;word-break:break-word}
  .notice{background:#fde7e9;color:#a4262c;padding:8px 12px;font-size:13px;margin-bottom:12px}
`;

function layout(ctx: SandboxContext, title: string, body: string, tenantName?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${h(title)}</title><style>${STYLE}</style></head>
<body><div class="banner" role="note">Sandbox sign-in for Connection Center — a local stand-in for Microsoft Entra ID. No real account is used.</div>
<main><div class="brand">${h(tenantName ?? 'Sandbox tenant')}</div>${body}</main></body></html>`;
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .map((p) => p.charAt(0))
    .join('')
    .slice(0, 2)
    .toUpperCase();
}

function tenantName(ctx: SandboxContext, request: AuthRequest): string {
  return request.tenantId ? (ctx.world.tenants.find((t) => t.id === request.tenantId)?.displayName ?? 'Sandbox') : 'Sandbox';
}

export function pickerPage(ctx: SandboxContext, request: AuthRequest, users: UserState[], client: AppRegistration, unknownHint?: string): string {
  const list = users
    .map(
      (u) => `<form method="post" action="/_sandbox/signin">
  <input type="hidden" name="session" value="${h(request.id)}"><input type="hidden" name="user" value="${h(u.oid)}">
  <button class="account" type="submit"><span class="avatar" aria-hidden="true">${h(initials(u.displayName))}</span>
  <span class="who"><b>${h(u.displayName)}</b><span>${h(u.upn)}</span>${u.note ? `<i>${h(u.note)}</i>` : ''}</span></button></form>`,
    )
    .join('\n');
  const notice = unknownHint
    ? `<div class="notice" role="alert">We couldn't find an account with the username ${h(unknownHint)}. Pick one of the demo accounts.</div>`
    : '';
  return layout(
    ctx,
    'Sign in to your account',
    `<h1>Pick an account</h1>${notice}<p class="muted">to continue to ${h(client.displayName)}</p>${list}`,
    tenantName(ctx, request),
  );
}

function describe(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope.toLowerCase()] ?? scope;
}

export function consentPage(
  ctx: SandboxContext,
  request: AuthRequest,
  client: AppRegistration,
  user: UserState,
  scopes: string[],
  preset: ConsentDecision | undefined,
): string {
  const limited = preset && typeof preset === 'object' ? preset.partial.map((s) => s.toLowerCase()) : undefined;
  const shown = [...scopes.filter((s) => !isOidcScope(s)), ...scopes.filter(isOidcScope)];
  const items = shown
    .map((s) => {
      const denied = limited !== undefined && !isOidcScope(s) && !limited.includes(s.toLowerCase());
      return `<li${denied ? ' class="denied"' : ''}>${h(describe(s))}<small>${h(s)}${denied ? ' — your organisation does not let you grant this one; it will be left out' : ''}</small></li>`;
    })
    .join('');
  return layout(
    ctx,
    'Permissions requested',
    `<p class="muted">${h(user.upn)}</p>
<h1>Permissions requested</h1>
<div class="app"><div class="appicon" aria-hidden="true">CC</div><div><b>${h(client.displayName)}</b><div class="unverified">unverified</div></div></div>
<p>This app would like to:</p>
<ul class="perms">${items}</ul>
<p class="muted">Accepting these permissions means that you allow this app to use your data as specified in their terms of service and privacy statement. You can change these permissions at https://myapps.microsoft.com.</p>
<form method="post" action="/_sandbox/consent"><input type="hidden" name="session" value="${h(request.id)}">
<div class="buttons"><button class="secondary" type="submit" name="decision" value="cancel">Cancel</button>
<button class="primary" type="submit" name="decision" value="accept" autofocus>Accept</button></div></form>`,
    tenantName(ctx, request),
  );
}

export function adminApprovalPage(ctx: SandboxContext, request: AuthRequest, client: AppRegistration, user: UserState): string {
  return layout(
    ctx,
    'Need admin approval',
    `<p class="muted">${h(user.upn)}</p>
<h1>Need admin approval</h1>
<div class="app"><div class="appicon" aria-hidden="true">CC</div><div><b>${h(client.displayName)}</b><div class="unverified">unverified</div></div></div>
<p>${h(client.displayName)} needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.</p>
<form method="post" action="/_sandbox/return"><input type="hidden" name="session" value="${h(request.id)}">
<div class="buttons"><button class="primary" type="submit">Return to the application without granting consent</button></div></form>`,
    tenantName(ctx, request),
  );
}

export function errorPage(ctx: SandboxContext, e: AadError | undefined, extra?: string): string {
  const detail = e ? `<p class="code">AADSTS${e.code}: ${h(e.text)}</p>` : '';
  return layout(ctx, 'Sign in error', `<h1>Sorry, but we’re having trouble signing you in.</h1>${detail}${extra ? `<p>${h(extra)}</p>` : ''}`);
}

export function formPostPage(ctx: SandboxContext, action: string, fields: Record<string, string>, nonce: string): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${h(k)}" value="${h(v)}">`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Working…</title><style>${STYLE}</style></head>
<body><form method="post" action="${h(action)}" id="f">${inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><button type="submit">Submit</button></noscript></form>
<script nonce="${h(nonce)}">document.getElementById('f').submit();</script></body></html>`;
}

export function signedOutPage(ctx: SandboxContext): string {
  return layout(ctx, 'Signed out', '<h1>You signed out of your account</h1><p>It’s a good idea to close all browser windows.</p>');
}

export function homePage(ctx: SandboxContext): string {
  const rows = ctx.world.tenants
    .map(
      (t) =>
        `<p><b>${h(t.displayName)}</b> <span class="muted">${h(t.id)}</span></p>` +
        t.users.map((u) => `<p class="muted">${h(u.upn)}${u.note ? ` — ${h(u.note)}` : ''}</p>`).join(''),
    )
    .join('');
  return layout(ctx, 'Sandbox tenant', `<h1>Sandbox tenant</h1><p>Sign in from Connection Center; this page only lists the demo accounts.</p>${rows}`);
}
