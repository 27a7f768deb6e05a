/**
 * Delegated probes for "Test connection": one `$batch` reading the resources each enabled
 * feature needs with the user's own token. A throttled or unreachable Graph makes the result
 * inconclusive (state `unknown`) — never a broken connection, since the grant was not the problem.
 */
import type { ProbeResult } from '../contract';
import { ERROR_CATALOGUE, type ErrorCode } from '../domain/errors';
import { DELEGATED_SCOPES, type Feature } from '../domain/features';
import { batchItemError, createGraphClient, graphBatch, fromGraphFailure, type BatchOptions, type RetryPolicy } from './client';

export type ProbeName = 'me' | 'inbox' | 'calendar' | 'events' | 'todoLists';

interface ProbeDef {
  url: string;
  what: string;
}

export const PROBES: Record<ProbeName, ProbeDef> = {
  me: { url: '/me?$select=id,userPrincipalName,displayName', what: 'your profile' },
  inbox: { url: '/me/mailFolders/inbox', what: 'your inbox' },
  calendar: { url: '/me/calendar', what: 'your calendar' },
  events: { url: '/me/events?$top=1&$select=id', what: 'your calendar events' },
  todoLists: { url: '/me/todo/lists?$top=1', what: 'your Microsoft To Do lists' },
};

/** What each feature reads; Calendar Scheduling needs both mail and calendar. */
export const FEATURE_PROBES: Record<Feature, readonly ProbeName[]> = {
  emailSync: ['inbox'],
  calendarSync: ['calendar', 'events'],
  calendarScheduling: ['calendar', 'events', 'inbox'],
  taskSync: ['todoLists'],
};

export interface DelegatedProbeInput {
  graphEndpoint: string;
  accessToken: string;
  /** Features enabled for the organisation; the profile is always probed. */
  features: readonly Feature[];
  fetchTimeoutMs?: number;
  retry?: RetryPolicy;
  batch?: BatchOptions;
}

export interface DelegatedProbeOutcome {
  probes: ProbeResult[];
  /** Set when Graph could not give an answer (the check should leave the state `unknown`). */
  inconclusive?: 'THROTTLED' | 'GRAPH_UNAVAILABLE';
}

/** In a user's own context a "not found" under /me is the mailbox, not a missing test account. */
function delegatedCode(code: ErrorCode): ErrorCode {
  return code === 'TEST_ACCOUNT_NOT_FOUND' ? 'MAILBOX_NOT_REST_ENABLED' : code;
}

function probeMessage(probe: ProbeName, feature: Feature | 'profile', code: ErrorCode): string {
  const what = PROBES[probe].what;
  switch (code) {
    case 'ACCESS_DENIED': {
      const scopes = feature === 'profile' ? 'User.Read' : DELEGATED_SCOPES[feature].join(', ');
      return `Access to ${what} was denied: the permission ${scopes} is not granted.`;
    }
    case 'ACCESS_POLICY_DENIED':
      return `Access to ${what} was denied by your organisation's access policy.`;
    case 'MAILBOX_NOT_REST_ENABLED':
      return `${what[0].toUpperCase()}${what.slice(1)} could not be found: the mailbox is not enabled for Microsoft Graph.`;
    case 'THROTTLED':
      return `Microsoft Graph is throttling requests; ${what} could not be checked this time.`;
    case 'GRAPH_UNAVAILABLE':
      return `Microsoft Graph could not be reached; ${what} could not be checked this time.`;
    default:
      return ERROR_CATALOGUE[code].message;
  }
}

function inconclusiveOf(codes: Iterable<ErrorCode | undefined>): DelegatedProbeOutcome['inconclusive'] {
  let throttled = false;
  for (const c of codes) {
    if (c === 'GRAPH_UNAVAILABLE') return 'GRAPH_UNAVAILABLE';
    if (c === 'THROTTLED') throttled = true;
  }
  return throttled ? 'THROTTLED' : undefined;
}

export async function runDelegatedProbes(input: DelegatedProbeInput): Promise<DelegatedProbeOutcome> {
  const wanted: Array<{ feature: Feature | 'profile'; probe: ProbeName }> = [{ feature: 'profile', probe: 'me' }];
  for (const f of input.features) for (const p of FEATURE_PROBES[f]) wanted.push({ feature: f, probe: p });
  const distinct = [...new Set(wanted.map((w) => w.probe))];

  const client = createGraphClient({
    graphEndpoint: input.graphEndpoint,
    accessToken: input.accessToken,
    fetchTimeoutMs: input.fetchTimeoutMs,
    retry: input.retry,
  });
  const codeOf = new Map<ProbeName, ErrorCode | undefined>();
  try {
    const answers = await graphBatch(
      client,
      distinct.map((p) => ({ id: p, url: PROBES[p].url })),
      input.batch,
    );
    for (const a of answers) {
      const code = a.status === 0 ? 'GRAPH_UNAVAILABLE' : batchItemError(a);
      codeOf.set(a.id as ProbeName, code ? delegatedCode(code) : undefined);
    }
  } catch (err) {
    // The batch call itself failed: every probe shares its fate.
    const code = delegatedCode(fromGraphFailure(err).code);
    for (const p of distinct) codeOf.set(p, code);
  }

  const probes: ProbeResult[] = wanted.map(({ feature, probe }) => {
    const code = codeOf.get(probe);
    if (!code) return { feature, probe, ok: true };
    return { feature, probe, ok: false, code, message: probeMessage(probe, feature, code) };
  });
  const inconclusive = inconclusiveOf(codeOf.values());
  return { probes, ...(inconclusive ? { inconclusive } : {}) };
}
