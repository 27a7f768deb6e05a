/**
 * Product data → card models. Every label, message and remedy comes from src/domain (features,
 * kinds, states, the error catalogue, deadlines); this file only arranges them. Anything else —
 * names, UPNs, tenant names, role names from a token, the server's step messages that quote them,
 * what someone typed — goes through `md` (escapeCardMarkdown) on its way into a model.
 */
import type { FunnelView, PermissionsResponse, ServiceAccountTestResponse, SummaryResponse } from '../../src/contract';
import { CONNECTION_KINDS, CONNECTION_STATES, KIND_LABELS, STATE_LABELS, isLegacyKind, legacyFeatures, type ConnectionKind } from '../../src/domain/connection';
import { DEADLINE_HEADLINES, DEFAULT_DEADLINES, daysUntil, nextDeadlineFor, type Deadline, type DeadlineView } from '../../src/domain/deadlines';
import { ERROR_CATALOGUE, isErrorCode, type ErrorCode } from '../../src/domain/errors';
import { FEATURES, FEATURE_LABELS, APPLICATION_ROLES, type Feature } from '../../src/domain/features';
import type { ConnectionRecord } from '../../src/store/types';
import { escapeCardMarkdown as md } from './markdown';
import type { CheckChange, CheckDigest } from '../../src/services/checks';
import type {
  CheckDigestModel,
  DeadlineDigestModel,
  ErrorModel,
  HelpModel,
  PermissionsMissingModel,
  ReconnectNudgeModel,
  StatusModel,
  WelcomeModel,
  TestFailedModel,
  TestPassedModel,
  TextColor,
} from './models';

export const PRODUCT_NAME = 'Connection Center';

/** What the bot needs of a service-account test; both the API response and the stored record fit. */
export type TestOutcome = Pick<ServiceAccountTestResponse, 'ok' | 'ranAt' | 'steps' | 'features'>;

// ---- formatting --------------------------------------------------------------------------------

export function formatDate(isoDate: string): string {
  const d = new Date(isoDate.length === 10 ? `${isoDate}T00:00:00Z` : isoDate);
  if (Number.isNaN(d.getTime())) return isoDate;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const time = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
  return `${formatDate(iso)}, ${time} UTC`;
}

export function daysText(days: number): string {
  if (days === 0) return 'today';
  if (days < 0) return `${-days} day${days === -1 ? '' : 's'} ago`;
  return `in ${days} day${days === 1 ? '' : 's'}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function humanise(id: string): string {
  const words = id.replace(/[-_.]+/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : id;
}

function catalogue(code: string): { message: string; remedy: string } {
  if (isErrorCode(code)) {
    const entry: { message: string; remedy?: string } = ERROR_CATALOGUE[code];
    return { message: entry.message, remedy: entry.remedy ?? '' };
  }
  return { message: '', remedy: '' };
}

// ---- test verdicts -----------------------------------------------------------------------------

const PERMISSION_CODES: readonly string[] = ['PERMISSION_MISSING', 'ADMIN_CONSENT_MISSING'] satisfies ErrorCode[];

export type Verdict = { kind: 'passed' } | { kind: 'permissions'; missing: string[] } | { kind: 'failed'; code: string };

export function verdictOf(test: TestOutcome): Verdict {
  if (test.ok) return { kind: 'passed' };
  const failed = test.steps.find((s) => s.status === 'failed');
  if (failed?.code && PERMISSION_CODES.includes(failed.code)) {
    const missing = new Set<string>();
    for (const f of FEATURES) for (const r of test.features?.[f]?.missing ?? []) missing.add(r);
    return { kind: 'permissions', missing: [...missing].sort() };
  }
  return { kind: 'failed', code: failed?.code ?? 'INTERNAL' };
}

/** A stable string per verdict: two tests with the same signature need no new message. */
export function verdictSignature(v: Verdict): string {
  if (v.kind === 'passed') return 'passed';
  if (v.kind === 'permissions') return `permissions:${v.missing.join(',')}`;
  return `failed:${v.code}`;
}

// ---- cards -------------------------------------------------------------------------------------

export interface TestCardContext {
  tabUrl: string;
  tenantName?: string;
  /** Features the service account is set up for; others are shown as "not enabled". */
  enabled?: readonly Feature[];
  portal?: PermissionsResponse['portal'];
  /** The previous test failed: say it works again. */
  recovered?: boolean;
}

function subtitleFor(ctx: { tenantName?: string }, ranAt: string): string {
  return `${ctx.tenantName ? `${md(ctx.tenantName)} · ` : ''}service account test, ${formatDateTime(ranAt)}`;
}

export function testFailedModel(test: TestOutcome, ctx: TestCardContext): TestFailedModel {
  const failed = test.steps.find((s) => s.status === 'failed') ?? test.steps.find((s) => s.status === 'warning');
  const code = failed?.code ?? 'INTERNAL';
  const known = catalogue(code);
  const others = test.steps.filter((s) => s !== failed && (s.status === 'failed' || s.status === 'warning'));
  return {
    title: 'The service account test failed',
    subtitle: subtitleFor(ctx, test.ranAt),
    step: failed ? md(humanise(failed.id)) : 'Unknown step',
    code: md(code),
    ranAt: formatDateTime(test.ranAt),
    message: failed?.message ? md(failed.message) : known.message || 'The test did not pass.',
    remedy: failed?.remedy ? md(failed.remedy) : known.remedy || ERROR_CATALOGUE.INTERNAL.remedy,
    otherIssues: others.map((s) => ({ text: `${s.status === 'failed' ? 'Failed' : 'Warning'}: ${md(s.message)}${s.code ? ` (${md(s.code)})` : ''}` })),
    moreIssues: 0,
    tabUrl: ctx.tabUrl,
  };
}

export function testPassedModel(test: TestOutcome, ctx: TestCardContext): TestPassedModel {
  const enabled = ctx.enabled;
  const features = FEATURES.map((f) => {
    const entry = test.features?.[f];
    let status: string;
    let color: TextColor;
    if (APPLICATION_ROLES[f] === null) [status, color] = ['Users connect it themselves', 'default'];
    else if (enabled && !enabled.includes(f)) [status, color] = ['Not enabled', 'default'];
    else if (entry?.available) [status, color] = ['Available', 'good'];
    else [status, color] = [`Missing ${md(entry?.missing.join(', ') ?? '') || 'permissions'}`, 'attention'];
    return { label: FEATURE_LABELS[f], status, color };
  });
  const warnings = test.steps.filter((s) => s.status === 'warning');
  return {
    title: ctx.recovered ? 'The service account works again' : 'The service account test passed',
    subtitle: subtitleFor(ctx, test.ranAt),
    summary: ctx.recovered
      ? 'The last test failed; this one passed. Mail and calendar sync through the service account are back.'
      : 'Every step passed: the service account reaches the test mailbox with the permissions your features need.',
    features,
    warnings: warnings.map((s) => ({ text: `${md(s.message)}${s.remedy ? ` ${md(s.remedy)}` : ''}` })),
    moreWarnings: 0,
    tabUrl: ctx.tabUrl,
  };
}

export function permissionsMissingModel(test: TestOutcome, ctx: TestCardContext): PermissionsMissingModel {
  const enabled = ctx.enabled;
  const shown = FEATURES.filter((f) => (test.features?.[f]?.missing.length ?? 0) > 0 && (!enabled || enabled.includes(f)));
  // Role names come from the token's roles claim: shown as data, never as markdown.
  const rows = shown.map((f) => {
    const entry = test.features[f];
    return { label: FEATURE_LABELS[f], missing: md(entry.missing.join(', ')), granted: md(entry.granted.join(', ')) || 'none' };
  });
  const failed = test.steps.find((s) => s.status === 'failed');
  const code: ErrorCode = failed?.code === 'ADMIN_CONSENT_MISSING' ? 'ADMIN_CONSENT_MISSING' : 'PERMISSION_MISSING';
  const allMissing = [...new Set(shown.flatMap((f) => test.features[f].missing))];
  return {
    title: code === 'ADMIN_CONSENT_MISSING' ? 'Admin consent is missing for the service account' : 'The service account is missing permissions',
    subtitle: subtitleFor(ctx, test.ranAt),
    message: `${ERROR_CATALOGUE[code].message} ${rows.length ? `${plural(rows.length, 'feature')} cannot sync until it is fixed.` : ''}`.trim(),
    missingText: md(allMissing.join(', ')) || 'see the admin page',
    features: rows,
    moreFeatures: 0,
    remedy: failed?.remedy ? md(failed.remedy) : ERROR_CATALOGUE[code].remedy,
    apiPermissionsUrl: ctx.portal?.apiPermissionsUrl ?? '',
    adminConsentUrl: ctx.portal?.adminConsentUrl ?? '',
  };
}

export type TestCard =
  | { name: 'TestPassed'; model: TestPassedModel }
  | { name: 'PermissionsMissing'; model: PermissionsMissingModel }
  | { name: 'TestFailed'; model: TestFailedModel };

/** The card that reports a test: passed, permissions missing, or failed. */
export function testCard(test: TestOutcome, ctx: TestCardContext): TestCard {
  const v = verdictOf(test);
  if (v.kind === 'passed') return { name: 'TestPassed', model: testPassedModel(test, ctx) };
  if (v.kind === 'permissions') return { name: 'PermissionsMissing', model: permissionsMissingModel(test, ctx) };
  return { name: 'TestFailed', model: testFailedModel(test, ctx) };
}

export interface DigestInput {
  deadline: DeadlineView;
  /** All deadlines (for the countdowns to EWS removal and the SMTP AUTH date). */
  deadlines: readonly Deadline[];
  now: Date;
  /** Affected connections per kind (only kinds the deadline breaks). */
  counts: Partial<Record<ConnectionKind, number>>;
  /** The first affected users, by name. */
  users: ConnectionRecord[];
  /** How many affected users exist beyond `users`. */
  moreUsers: number;
  tabUrl: string;
}

export function deadlineDigestModel(input: DigestInput): DeadlineDigestModel {
  const { deadline, now } = input;
  const total = Object.values(input.counts).reduce((a, b) => a + (b ?? 0), 0);
  const countdownIds: Array<Deadline['id']> = ['ews-removed', 'smtp-auth-basic-disabled'];
  const countdowns = countdownIds
    .map((id) => input.deadlines.find((d) => d.id === id))
    .filter((d): d is Deadline => !!d)
    .map((d) => {
      const days = daysUntil(d.date, now);
      return {
        days: days >= 0 ? String(days) : 'passed',
        label: `${days === 1 ? 'day' : 'days'} until ${formatDate(d.date)}: ${DEADLINE_HEADLINES[d.id]}`,
        color: (days <= 30 ? 'attention' : days <= 90 ? 'warning' : 'default') as TextColor,
      };
    });
  return {
    title: `${DEADLINE_HEADLINES[deadline.id]} ${daysText(deadline.daysLeft)}`,
    subtitle: `${formatDate(deadline.date)} · ${plural(total, 'connection')} still affected`,
    headerStyle: deadline.daysLeft <= 14 ? 'attention' : 'warning',
    what: deadline.what,
    countdowns,
    affectedText:
      input.deadlines.find((d) => d.id === deadline.id)?.breaksConnection === false
        ? `${plural(total, 'connection')} still ${total === 1 ? 'uses' : 'use'} Basic Authentication:`
        : `${plural(total, 'connection')} still ${total === 1 ? 'depends' : 'depend'} on what stops working:`,
    kinds: (Object.entries(input.counts) as Array<[ConnectionKind, number]>)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => ({ label: KIND_LABELS[kind], count: String(n) })),
    users: input.users.map((u) => ({ name: md(u.displayName || u.upn), detail: `${KIND_LABELS[u.kind]}, ${STATE_LABELS[u.state].toLowerCase()}` })),
    moreUsers: input.moreUsers,
    tabUrl: input.tabUrl,
  };
}

export function reconnectNudgeModel(
  connection: ConnectionRecord,
  now: Date,
  tabUrl: string,
  deadlines: readonly Deadline[] = DEFAULT_DEADLINES,
): ReconnectNudgeModel {
  const name = md(connection.displayName?.split(' ')[0] || connection.upn);
  const legacy = isLegacyKind(connection.kind);
  const next = legacy ? nextDeadlineFor(connection.kind, now, deadlines) : undefined;
  if (legacy) {
    const viaEws = legacyFeatures(connection.kind, connection.state, next?.date ?? '');
    return {
      title: `${name}, please reconnect your mailbox`,
      subtitle: `You still sync through ${KIND_LABELS[connection.kind]}.`,
      when: next
        ? deadlineSentence(connection.kind, next, now, deadlines)
        : 'Microsoft has switched off the way your mailbox connects today; it can stop at any moment.',
      stopsHeading: 'What stops working',
      stops: FEATURES.filter((f) => viaEws[f].available).map((f) => ({ label: FEATURE_LABELS[f] })),
      action: 'Connect Office 365 now: it takes a minute and keeps everything syncing.',
      tabUrl,
    };
  }
  const reason = connection.error?.message ? md(connection.error.message) : ERROR_CATALOGUE.REFRESH_TOKEN_REVOKED.message;
  return {
    title: `${name}, please reconnect Office 365`,
    subtitle: `${KIND_LABELS[connection.kind]}: ${STATE_LABELS[connection.state].toLowerCase()}`,
    when: reason,
    stopsHeading: 'Not syncing until you reconnect',
    stops: FEATURES.map((f) => ({ label: FEATURE_LABELS[f] })),
    action: connection.error?.remedy ? md(connection.error.remedy) : ERROR_CATALOGUE.REFRESH_TOKEN_REVOKED.remedy,
    tabUrl,
  };
}

/** "<next deadline> on <date> (in N days)", and the final EWS removal when that comes later. */
function deadlineSentence(kind: ConnectionKind, next: DeadlineView, now: Date, deadlines: readonly Deadline[]): string {
  const parts = [`${DEADLINE_HEADLINES[next.id]} on ${formatDate(next.date)} (${daysText(next.daysLeft)})`];
  const last = deadlines.find((d) => d.id === 'ews-removed' && d.affects.includes(kind));
  if (last && last.id !== next.id && daysUntil(last.date, now) >= 0) {
    parts.push(`${DEADLINE_HEADLINES[last.id]} on ${formatDate(last.date)}`);
  }
  return `${parts.join(', and ')}.`;
}

/** People named on a health-check digest per list; the rest are counted. */
export const CHECK_DIGEST_NAMED = 10;

function changeLine(c: CheckChange): { name: string; detail: string } {
  const why = c.code && isErrorCode(c.code) ? `: ${ERROR_CATALOGUE[c.code].message}` : '';
  return { name: md(c.displayName || c.upn), detail: `${KIND_LABELS[c.kind]}, now ${STATE_LABELS[c.to].toLowerCase()}${why}` };
}

/** What a health-check run changed: who broke, who recovered, and who is still on Exchange. */
export function checkDigestModel(digest: CheckDigest, tabUrl: string, deadlines: readonly Deadline[] = DEFAULT_DEADLINES): CheckDigestModel {
  const now = new Date(digest.finishedAt);
  const broke = digest.broke.map(changeLine);
  const recovered = digest.recovered.map(changeLine);
  const parts = [
    digest.broke.length ? `${plural(digest.broke.length, 'connection')} broke` : '',
    digest.recovered.length ? `${digest.recovered.length} recovered` : '',
  ].filter(Boolean);
  const ews = nextDeadlineFor('ews-basic', now, deadlines);
  const exchangeText =
    digest.onExchange > 0
      ? `${plural(digest.onExchange, 'connection')} still ${digest.onExchange === 1 ? 'uses' : 'use'} Exchange (EWS)${
          ews ? `: ${DEADLINE_HEADLINES[ews.id]} on ${formatDate(ews.date)} (${daysText(ews.daysLeft)}).` : '.'
        }`
      : '';
  return {
    title: `Health check: ${parts.join(', ')}`,
    subtitle: `${formatDateTime(digest.finishedAt)} · ${digest.checked} of ${plural(digest.total, 'connection')} checked`,
    headerStyle: digest.broke.length ? 'attention' : 'good',
    counts: [
      { label: 'Broke', count: String(digest.broke.length) },
      { label: 'Recovered', count: String(digest.recovered.length) },
      { label: 'Still on Exchange', count: String(digest.onExchange) },
    ],
    broke: broke.slice(0, CHECK_DIGEST_NAMED),
    moreBroke: Math.max(0, broke.length - CHECK_DIGEST_NAMED),
    recovered: recovered.slice(0, CHECK_DIGEST_NAMED),
    moreRecovered: Math.max(0, recovered.length - CHECK_DIGEST_NAMED),
    exchangeText,
    tabUrl,
  };
}

export const COMMANDS = {
  status: 'The state of every connection in your organisation and the deadlines ahead.',
  test: 'Test the service account now and show what is wrong and how to fix it.',
  remind: 'Send a reconnect reminder to everyone still on EWS or needing to reconnect.',
  'subscribe here': 'Post admin alerts (failed tests, missing permissions, deadlines) in this channel.',
  unsubscribe: 'Stop admin alerts in this conversation.',
  help: 'Show this list.',
} as const;
export type CommandName = keyof typeof COMMANDS;

export function helpModel(opts: { isAdmin: boolean; welcome: boolean; subscribed?: boolean; tabUrl: string; unknown?: string }): HelpModel {
  const names = (Object.keys(COMMANDS) as CommandName[]).filter((c) => opts.isAdmin || c === 'help');
  const commands = names.map((name) => ({ name, description: COMMANDS[name] }));
  const intro = opts.isAdmin
    ? 'I tell you when the service account fails or lacks permissions, count down the EWS and Basic Auth deadlines, and remind people who still have to reconnect.'
    : 'I remind you when your mailbox needs to be reconnected to Office 365. Open Connection Center to see your connection and which features it allows.';
  let note = '';
  if (opts.unknown) note = `I did not understand "${md(opts.unknown)}". Here is what I can do.`;
  else if (opts.welcome && opts.isAdmin && opts.subscribed) note = 'Admin alerts will arrive in this chat.';
  return {
    title: opts.welcome ? `Welcome to ${PRODUCT_NAME}` : `${PRODUCT_NAME} commands`,
    subtitle: opts.isAdmin ? 'For administrators' : 'Move your mail and calendar to Microsoft Graph',
    intro,
    note,
    commands,
    commandList: names.join(', '),
    tabUrl: opts.tabUrl,
  };
}

/** What an admin or a user will receive in the chat the bot was just installed in. */
export const WELCOME_RECEIVE = {
  admin: [
    'A card when the service-account test fails or a permission is missing, and when it works again.',
    'Countdowns as the EWS and Basic Auth deadlines approach, with who is still affected.',
    'A warning before the service account’s client secret expires.',
    'The reconnect campaign’s progress whenever you type "status".',
  ],
  user: [
    'A reminder when your mailbox has to be reconnected to Office 365, with a button that opens Connection Center.',
    'Nothing else: once you have reconnected, the reminders stop.',
  ],
} as const;

export function welcomeModel(opts: { isAdmin: boolean; subscribed?: boolean; tabUrl: string }): WelcomeModel {
  const help = helpModel({ isAdmin: opts.isAdmin, welcome: true, subscribed: opts.subscribed, tabUrl: opts.tabUrl });
  const receive = WELCOME_RECEIVE[opts.isAdmin ? 'admin' : 'user'].map((text) => ({ text }));
  return {
    title: help.title,
    subtitle: help.subtitle,
    intro: help.intro,
    receive,
    receiveList: receive.map((r) => r.text.replace(/[.]$/, '')).join('; '),
    note: help.note,
    commands: help.commands,
    commandList: help.commandList,
    tabUrl: opts.tabUrl,
  };
}

/** The campaign's funnel as Status card lines (none before a campaign ran). */
function campaignLines(funnel: FunnelView | undefined): { campaign: StatusModel['campaign']; campaignNote: string } {
  if (!funnel || funnel.targeted === 0) return { campaign: [], campaignNote: '' };
  const campaign = [
    { label: 'Targeted', count: String(funnel.targeted) },
    { label: 'Bot installed', count: String(funnel.installed) },
    { label: 'Nudged', count: String(funnel.nudged) },
    { label: 'Opened the tab', count: String(funnel.opened) },
    { label: 'Reconnected', count: String(funnel.reconnected) },
  ];
  const note = funnel.unreachable.map((u) => `${plural(u.count, 'user')}: ${md(u.message)} ${md(u.remedy)}`).join(' ');
  return { campaign, campaignNote: note ? `Cannot be reached — ${note}` : '' };
}

export function statusModel(summary: SummaryResponse, now: Date, tabUrl: string, tenantName?: string, funnel?: FunnelView): StatusModel {
  const sa = summary.serviceAccount;
  let serviceAccount: string;
  let serviceAccountColor: TextColor;
  if (!sa.configured) [serviceAccount, serviceAccountColor] = [ERROR_CATALOGUE.SERVICE_ACCOUNT_NOT_CONFIGURED.message, 'warning'];
  else if (!sa.lastTest) [serviceAccount, serviceAccountColor] = ['Configured, not tested yet.', 'warning'];
  else if (sa.lastTest.ok) [serviceAccount, serviceAccountColor] = [`Last test passed (${formatDateTime(sa.lastTest.ranAt)}).`, 'good'];
  else [serviceAccount, serviceAccountColor] = [`Last test failed (${formatDateTime(sa.lastTest.ranAt)}). Type "test" for the details.`, 'attention'];
  return {
    title: `${PRODUCT_NAME} status`,
    subtitle: `${tenantName ? `${md(tenantName)} · ` : ''}${formatDateTime(now.toISOString())}`,
    total: String(summary.total),
    needAction: String(summary.needAction),
    needActionColor: summary.needAction > 0 ? 'attention' : 'good',
    needActionText:
      summary.needAction > 0
        ? `${plural(summary.needAction, 'user')} still on EWS or needing to reconnect.`
        : 'Nobody is left on EWS and every connection is current.',
    kinds: CONNECTION_KINDS.filter((k) => (summary.byKind[k] ?? 0) > 0).map((k) => ({ label: KIND_LABELS[k], count: String(summary.byKind[k]) })),
    states: CONNECTION_STATES.filter((s) => (summary.byState[s] ?? 0) > 0).map((s) => ({ label: STATE_LABELS[s], count: String(summary.byState[s]) })),
    deadlines: summary.deadlines.map((d) => ({
      text: `${formatDate(d.date)} (${daysText(d.daysLeft)}): ${DEADLINE_HEADLINES[d.id] ?? d.what} — ${plural(d.affectedUsers, 'user')} affected`,
    })),
    serviceAccount,
    serviceAccountColor,
    ...campaignLines(funnel),
    tabUrl,
  };
}

/** `title`, `message` and `remedy` are shown as markdown: escape (md) anything people wrote first. */
export function errorModel(input: {
  code?: string;
  title?: string;
  message?: string;
  remedy?: string;
  tabUrl: string;
  style?: ErrorModel['style'];
}): ErrorModel {
  const known = input.code ? catalogue(input.code) : { message: '', remedy: '' };
  return {
    style: input.style ?? 'attention',
    title: input.title ?? 'Something went wrong',
    message: input.message ?? (known.message || ERROR_CATALOGUE.INTERNAL.message),
    remedy: input.remedy ?? known.remedy,
    code: input.code ?? '',
    tabUrl: input.tabUrl,
  };
}

/** The advance notice for a client secret that is about to expire (or has). */
export function secretExpiringModel(input: { expiresAt: string; daysLeft: number; clientId: string; tabUrl: string }): ErrorModel {
  const expired = input.daysLeft < 0;
  return errorModel({
    style: expired || input.daysLeft <= 7 ? 'attention' : 'warning',
    title: expired ? 'The service account’s client secret has expired' : `The service account’s client secret expires ${daysText(input.daysLeft)}`,
    message: `${expired ? ERROR_CATALOGUE.SECRET_EXPIRED.message : `The client secret of app ${md(input.clientId)} expires on ${formatDate(input.expiresAt)}.`} Mail and calendar sync through the service account stop when it does.`,
    remedy: ERROR_CATALOGUE.SECRET_EXPIRED.remedy,
    code: expired ? 'SECRET_EXPIRED' : '',
    tabUrl: input.tabUrl,
  });
}
