import { Button, makeStyles, ProgressBar, Spinner, TableCell, TableRow, Text, tokens } from '@fluentui/react-components';
import { ArrowSync20Regular } from '@fluentui/react-icons';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CheckLatestResponse } from '../../../src/contract';
import { CONNECTION_STATES, STATE_LABELS } from '../../../src/domain/connection';
import { ApiError, type Api } from '../api';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { StateChangeCells } from '../components/StateChangeCells';
import { formatDateTime, plural } from '../format';

/** How often the view asks for progress while a run is going. */
const POLL_MS = 1000;

const useStyles = makeStyles({
  line: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalM, rowGap: tokens.spacingVerticalXS, alignItems: 'center' },
  muted: { color: tokens.colorNeutralForeground3 },
  user: { overflowWrap: 'anywhere' },
});

type Check = NonNullable<CheckLatestResponse['check']>;

function countsText(check: Check): string {
  return CONNECTION_STATES.filter((st) => (check.byState[st] ?? 0) > 0)
    .map((st) => `${check.byState[st]} ${STATE_LABELS[st].toLowerCase()}`)
    .join(' · ');
}

/** The latest health check of every connection, and "Check all now" with its progress. */
export function HealthChecks({ api, onFinished }: { api: Api; onFinished: () => void }) {
  const s = useStyles();
  const [check, setCheck] = useState<Check | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const [starting, setStarting] = useState(false);
  const wasRunning = useRef(false);

  const load = useCallback(async () => {
    try {
      const res = await api.get<CheckLatestResponse>('/api/admin/checks/latest');
      setCheck(res.check);
      setError(undefined);
      const running = res.check?.status === 'running';
      // A run that just ended changed states: the overview and the users table catch up.
      if (wasRunning.current && !running) onFinished();
      wasRunning.current = running;
    } catch (e) {
      setError(e);
    }
  }, [api, onFinished]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (check?.status !== 'running') return;
    const t = setTimeout(() => void load(), POLL_MS);
    return () => clearTimeout(t);
  }, [check, load]);

  const start = async () => {
    setStarting(true);
    try {
      await api.post('/api/admin/checks');
    } catch (e) {
      // Already running: follow that run instead.
      if (!(e instanceof ApiError && e.code === 'CHECK_ALREADY_RUNNING')) setError(e);
    } finally {
      setStarting(false);
      await load();
    }
  };

  const running = check?.status === 'running';
  return (
    <Section
      title="Health checks"
      description="Every connection is checked on a schedule: Office 365 ones by proving their grant and reading the mailbox, Exchange ones by whether the service account reaches the mailbox."
      actions={
        <Button
          appearance="primary"
          icon={starting || running ? <Spinner size="tiny" /> : <ArrowSync20Regular />}
          disabled={starting || running}
          onClick={() => void start()}
        >
          {running ? 'Checking…' : 'Check all now'}
        </Button>
      }
    >
      {error ? <ErrorBar error={error} onRetry={() => void load()} /> : null}
      {check === undefined && !error ? <Spinner size="small" label="Loading the latest check…" labelPosition="after" /> : null}
      {check === null ? <Text>No check has run yet.</Text> : null}
      {check ? (
        <>
          <div className={s.line}>
            <Text weight="semibold">
              {running ? 'Running since' : check.status === 'failed' ? 'Stopped with an error at' : 'Last check'}{' '}
              {formatDateTime(running ? check.startedAt : (check.finishedAt ?? check.startedAt))}
            </Text>
            <Text className={s.muted} aria-live="polite">
              {check.checked} of {plural(check.total, 'connection')} checked
            </Text>
          </div>
          {running ? <ProgressBar value={check.total ? check.checked / check.total : 0} aria-label="Health check progress" /> : null}
          {countsText(check) ? <Text className={s.muted}>{countsText(check)}</Text> : null}
          {!running && check.changes.length === 0 ? <Text>Nothing changed.</Text> : null}
          {check.changes.length > 0 ? (
            <DataTable label="What changed in the latest check" columns={['User', 'Was', 'Now', 'Why']} minWidth="520px" maxHeight="360px">
              {check.changes.map((c) => (
                <TableRow key={`${c.upn}-${c.from}-${c.to}`}>
                  <TableCell className={s.user}>{c.upn}</TableCell>
                  <StateChangeCells change={c} />
                </TableRow>
              ))}
            </DataTable>
          ) : null}
        </>
      ) : null}
    </Section>
  );
}
