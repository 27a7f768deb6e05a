import {
  Body1,
  Button,
  Caption1,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Skeleton,
  SkeletonItem,
  Spinner,
  Text,
  tokens,
} from '@fluentui/react-components';
import { ArrowSync20Regular, Beaker20Regular, LinkDismiss20Regular, PlugConnected20Regular, PlugDisconnected20Regular } from '@fluentui/react-icons';
import { useCallback, useEffect, useState } from 'react';
import type { ConnectionResponse, ConnectionTestResponse, ConnectResponse, MeResponse, ProbeResult } from '../../../src/contract';
import { isLegacyKind, KIND_LABELS, type ConnectionState } from '../../../src/domain/connection';
import { DEADLINE_HEADLINES, type DeadlineView } from '../../../src/domain/deadlines';
import { ERROR_CATALOGUE, isErrorCode, type ErrorBody } from '../../../src/domain/errors';
import { FEATURE_LABELS, FEATURES } from '../../../src/domain/features';
import { ApiError, catalogueError, type Api } from '../api';
import { KindBadge, StateBadge } from '../components/Badges';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorBar } from '../components/ErrorBar';
import { Section } from '../components/Section';
import { StatusIcon } from '../components/StatusIcon';
import { daysLeftText, formatDateTime, formatDay } from '../format';
import { consentFailureCode, withServerConsentUrl } from '../consent';
import { openAuthPopup } from '../host';

export interface Notice {
  intent: 'success' | 'info' | 'warning';
  title: string;
  body?: string;
}

/** States in which connecting (again) is the next thing the user should do. */
const CONNECT_STATES: readonly ConnectionState[] = ['needs-reconnect', 'missing-permissions', 'disconnected'];
/** Errors that say nothing about the connection itself: a warning, not an alarm. */
const PASSING_ERRORS = ['THROTTLED', 'GRAPH_UNAVAILABLE'];

const useStyles = makeStyles({
  stack: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalL },
  badges: { display: 'flex', flexWrap: 'wrap', alignItems: 'center', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalXS },
  meta: { color: tokens.colorNeutralForeground3 },
  actions: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalS },
  list: { listStyleType: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalS },
  item: { display: 'flex', columnGap: tokens.spacingHorizontalS, alignItems: 'flex-start' },
  itemText: { display: 'flex', flexDirection: 'column', minWidth: 0, overflowWrap: 'anywhere' },
  reason: { color: tokens.colorNeutralForeground2 },
  results: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalS, paddingTop: tokens.spacingVerticalS },
  skeleton: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalM, padding: tokens.spacingHorizontalL },
});

export function DeadlineBanner({ deadline }: { deadline: DeadlineView }) {
  const headline = `${DEADLINE_HEADLINES[deadline.id] ?? 'Deadline'} on ${formatDay(deadline.date)} — ${daysLeftText(deadline.daysLeft)}`;
  return (
    <MessageBar intent={deadline.daysLeft <= 30 ? 'error' : 'warning'} layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{headline}</MessageBarTitle>
        {deadline.what} Connect Office 365 now to keep your mail and calendar in sync.
      </MessageBarBody>
    </MessageBar>
  );
}

function ConnectionErrorBar({ error }: { error: ErrorBody }) {
  const passing = PASSING_ERRORS.includes(error.code);
  return (
    <MessageBar intent={passing ? 'warning' : 'error'} layout="multiline" data-code={error.code}>
      <MessageBarBody>
        <MessageBarTitle>{error.message}</MessageBarTitle>
        {error.remedy ? <div>{error.remedy}</div> : null}
        <Caption1>Code: {error.code}</Caption1>
      </MessageBarBody>
    </MessageBar>
  );
}

/** What each probe reads, in words; unknown probes show their resource name. */
const PROBE_TARGETS: Record<string, string> = {
  me: 'your profile',
  inbox: 'your inbox',
  calendar: 'your calendar',
  events: 'your calendar events',
  todoLists: 'your Microsoft To Do lists',
};

function probeText(p: ProbeResult): { label: string; detail: string; remedy?: string } {
  const what = PROBE_TARGETS[p.probe] ?? p.probe;
  const label = `${p.feature === 'profile' ? 'Sign-in' : FEATURE_LABELS[p.feature]} — ${p.ok ? 'passed' : 'failed'}`;
  if (p.ok) return { label, detail: `Read ${what}.` };
  const entry = p.code && isErrorCode(p.code) ? ERROR_CATALOGUE[p.code] : undefined;
  return {
    label,
    detail: `Could not read ${what}: ${p.message ?? entry?.message ?? 'the request failed.'}`,
    remedy: entry && 'remedy' in entry ? entry.remedy : undefined,
  };
}

/** The reason string of a failed Teams auth popup: our error code, or Teams' own words. */
function popupFailure(e: unknown): { error?: ApiError; notice?: Notice } {
  const raw = e instanceof Error ? e.message : String(e);
  // Only the code counts: the remedy's link comes from the server's answer (see consent.ts).
  const reason = consentFailureCode(raw);
  if (isErrorCode(reason)) return { error: catalogueError(reason) };
  if (reason === 'CancelledByUser')
    return {
      notice: {
        intent: 'info',
        title: 'The sign-in window was closed before it finished.',
        body: 'Nothing was changed. Click Connect Office 365 to try again.',
      },
    };
  if (reason === 'FailedToOpenWindow')
    return {
      notice: { intent: 'warning', title: 'The sign-in window could not be opened.', body: 'Allow pop-ups for Teams and click Connect Office 365 again.' },
    };
  return { error: catalogueError('INTERNAL') };
}

type Busy = 'connect' | 'test' | 'exchange' | 'graph' | null;

export function UserView({ api, me, inHost, initialNotice }: { api: Api; me: MeResponse; inHost: boolean; initialNotice?: Notice | ApiError }) {
  const s = useStyles();
  const [data, setData] = useState<ConnectionResponse>();
  const [loadError, setLoadError] = useState<unknown>();
  const [busy, setBusy] = useState<Busy>(null);
  const [notice, setNotice] = useState<Notice | undefined>(initialNotice instanceof ApiError ? undefined : initialNotice);
  const [actionError, setActionError] = useState<unknown>(initialNotice instanceof ApiError ? initialNotice : undefined);
  const [probes, setProbes] = useState<ProbeResult[]>();
  const [confirm, setConfirm] = useState<'exchange' | 'graph' | null>(null);

  const load = useCallback(async () => {
    setLoadError(undefined);
    try {
      setData(await api.get<ConnectionResponse>('/api/me/connection'));
    } catch (e) {
      setLoadError(e);
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  const run = async (what: Exclude<Busy, null>, action: () => Promise<void>) => {
    setBusy(what);
    setActionError(undefined);
    setNotice(undefined);
    try {
      await action();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(null);
    }
  };

  const connect = () =>
    run('connect', async () => {
      setProbes(undefined);
      if (!inHost) {
        const { url } = await api.post<ConnectResponse>('/api/me/connect', { mode: 'redirect' });
        window.location.assign(url);
        // Keep the spinner while the browser leaves the page.
        await new Promise<never>(() => undefined);
      }
      const { url } = await api.post<ConnectResponse>('/api/me/connect', { mode: 'popup' });
      try {
        await openAuthPopup(url);
      } catch (e) {
        const failure = popupFailure(e);
        if (failure.notice) setNotice(failure.notice);
        if (failure.error) throw failure.error;
        return;
      }
      await load();
      setNotice({ intent: 'success', title: 'Office 365 is connected.', body: 'Check below which features are now available.' });
    });

  const test = () =>
    run('test', async () => {
      setProbes(undefined);
      const result = await api.post<ConnectionTestResponse>('/api/me/connection/test');
      setProbes(result.probes);
      setData((d) => (d ? { ...d, connection: result.connection } : d));
    });

  const disconnect = (which: 'exchange' | 'graph') =>
    run(which, async () => {
      await api.delete(which === 'exchange' ? '/api/me/connection/exchange' : '/api/me/connection');
      setConfirm(null);
      setProbes(undefined);
      await load();
      setNotice({ intent: 'success', title: which === 'exchange' ? 'The Exchange connection was removed.' : 'Office 365 was disconnected.' });
    }).finally(() => setConfirm(null));

  if (loadError && !data) return <ErrorBar error={loadError} onRetry={() => void load()} />;
  if (!data)
    return (
      <div className={s.skeleton} aria-busy="true" aria-label="Loading your connection">
        <Skeleton aria-hidden>
          <SkeletonItem size={24} style={{ width: '40%' }} />
          <SkeletonItem size={16} style={{ width: '70%', marginTop: 12 }} />
          <SkeletonItem size={16} style={{ width: '55%', marginTop: 8 }} />
          <SkeletonItem size={32} style={{ width: '30%', marginTop: 16 }} />
        </Skeleton>
      </div>
    );

  const { connection, deadline } = data;
  const kind = connection.kind;
  const onGraph = kind === 'graph-delegated' || kind === 'graph-app';
  const hasLegacy = (kind !== null && isLegacyKind(kind)) || connection.legacy !== undefined;
  const connectPrimary = !onGraph || CONNECT_STATES.includes(connection.state);
  const showDeadline = deadline && kind !== null && isLegacyKind(kind);
  const disabled = busy !== null;

  return (
    <div className={s.stack}>
      {notice ? (
        <MessageBar intent={notice.intent} layout="multiline" role="status">
          <MessageBarBody>
            <MessageBarTitle>{notice.title}</MessageBarTitle>
            {notice.body}
          </MessageBarBody>
        </MessageBar>
      ) : null}
      {actionError ? <ErrorBar error={withServerConsentUrl(actionError, data.adminConsentUrl)} /> : null}
      {showDeadline ? <DeadlineBanner deadline={deadline} /> : null}

      <Section title="Your mailbox connection">
        <div className={s.badges}>
          {kind ? <KindBadge kind={kind} /> : null}
          <StateBadge state={connection.state} />
        </div>
        <Caption1 className={s.meta}>
          {me.user.upn} · {connection.lastCheckedAt ? `Last checked ${formatDateTime(connection.lastCheckedAt)}` : 'Not checked yet'}
        </Caption1>
        {kind === null ? <Body1>You have no mailbox connection yet. Connect Office 365 to sync your mail, calendar and tasks.</Body1> : null}
        {connection.legacy && onGraph ? (
          <Body1>
            Your old {KIND_LABELS[connection.legacy.kind]} connection is still on record
            {connection.legacy.lastSyncAt ? ` (last sync ${formatDateTime(connection.legacy.lastSyncAt)})` : ''}. You can remove it now that Office 365 works.
          </Body1>
        ) : null}
        {connection.error ? <ConnectionErrorBar error={connection.error} /> : null}
        <div className={s.actions}>
          <Button
            appearance={connectPrimary ? 'primary' : 'secondary'}
            icon={busy === 'connect' ? <Spinner size="tiny" /> : <PlugConnected20Regular />}
            disabled={disabled}
            onClick={() => void connect()}
          >
            Connect Office 365
          </Button>
          {onGraph ? (
            <Button icon={busy === 'test' ? <Spinner size="tiny" /> : <Beaker20Regular />} disabled={disabled} onClick={() => void test()}>
              Test connection
            </Button>
          ) : null}
          {hasLegacy ? (
            <Button icon={<LinkDismiss20Regular />} disabled={disabled} onClick={() => setConfirm('exchange')}>
              Disconnect Exchange
            </Button>
          ) : null}
          {kind === 'graph-delegated' && connection.state !== 'disconnected' ? (
            <Button icon={<PlugDisconnected20Regular />} disabled={disabled} onClick={() => setConfirm('graph')}>
              Disconnect Office 365
            </Button>
          ) : null}
          <Button appearance="subtle" icon={<ArrowSync20Regular />} disabled={disabled} onClick={() => void load()} aria-label="Refresh status">
            Refresh
          </Button>
        </div>
        {busy === 'test' ? <Spinner size="small" label="Testing your connection…" labelPosition="after" /> : null}
        {probes ? (
          <div role="status" aria-live="polite" className={s.results}>
            <Text weight="semibold">Test results</Text>
            <ul className={s.list} aria-label="Test results">
              {probes.map((p) => {
                const t = probeText(p);
                return (
                  <li key={`${p.feature}-${p.probe}`} className={s.item}>
                    <StatusIcon status={p.ok ? 'passed' : 'failed'} />
                    <span className={s.itemText}>
                      <Text weight="semibold">{t.label}</Text>
                      <Text className={s.reason}>{t.detail}</Text>
                      {t.remedy ? <Text className={s.reason}>{t.remedy}</Text> : null}
                    </span>
                  </li>
                );
              })}
            </ul>
          </div>
        ) : null}
      </Section>

      <Section title="Features" description="What Connection Center can do with your mailbox right now.">
        <ul className={s.list} aria-label="Features">
          {FEATURES.map((f) => {
            const a = connection.features[f];
            return (
              <li key={f} className={s.item}>
                <StatusIcon status={a?.available ? 'passed' : 'failed'} label={a?.available ? 'Available' : 'Unavailable'} />
                <span className={s.itemText}>
                  <Text weight="semibold">
                    {FEATURE_LABELS[f]} — {a?.available ? 'available' : 'unavailable'}
                  </Text>
                  {a?.reason ? <Text className={s.reason}>{a.reason}</Text> : null}
                </span>
              </li>
            );
          })}
        </ul>
      </Section>

      <ConfirmDialog
        open={confirm === 'exchange'}
        title="Disconnect Exchange?"
        confirmLabel="Disconnect Exchange"
        busy={busy === 'exchange'}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void disconnect('exchange')}
      >
        Connection Center will stop using your old Exchange (EWS) connection and forget its stored credentials.
        {onGraph ? ' Your Office 365 connection stays as it is.' : ' Until you connect Office 365, nothing will sync.'}
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'graph'}
        title="Disconnect Office 365?"
        confirmLabel="Disconnect Office 365"
        busy={busy === 'graph'}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void disconnect('graph')}
      >
        Connection Center will delete its Microsoft 365 sign-in for you. Mail, calendar and task sync stop until you connect again.
      </ConfirmDialog>
    </div>
  );
}
