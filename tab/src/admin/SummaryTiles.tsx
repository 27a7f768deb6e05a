import { Caption1, Card, makeStyles, Skeleton, SkeletonItem, Text, tokens } from '@fluentui/react-components';
import type { ReactNode } from 'react';
import type { SummaryResponse } from '../../../src/contract';
import { CONNECTION_KINDS, CONNECTION_STATES, KIND_LABELS } from '../../../src/domain/connection';
import { DEADLINE_HEADLINES } from '../../../src/domain/deadlines';
import { ErrorBar } from '../components/ErrorBar';
import { StatusIcon } from '../components/StatusIcon';
import { daysLeftText, formatDateTime, formatDay, plural } from '../format';
import type { Resource } from '../useResource';
import { StateBadge } from '../components/Badges';

const useStyles = makeStyles({
  stack: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingHorizontalM },
  grid: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(240px, 1fr))', gap: tokens.spacingHorizontalM },
  tile: { padding: tokens.spacingHorizontalM, display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalS, minWidth: 0 },
  big: { fontSize: tokens.fontSizeHero800, lineHeight: tokens.lineHeightHero800, fontWeight: tokens.fontWeightSemibold },
  rows: { listStyleType: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalXS },
  row: { display: 'flex', justifyContent: 'space-between', columnGap: tokens.spacingHorizontalS, alignItems: 'center' },
  muted: { color: tokens.colorNeutralForeground3 },
  line: { display: 'flex', columnGap: tokens.spacingHorizontalS, alignItems: 'center' },
});

function Tile({ title, children }: { title: string; children: ReactNode }) {
  const s = useStyles();
  return (
    <Card className={s.tile} role="group" aria-label={title}>
      <Caption1 className={s.muted}>{title}</Caption1>
      {children}
    </Card>
  );
}

export function SummaryTiles({ summary }: { summary: Resource<SummaryResponse> }) {
  const s = useStyles();
  const { data, error } = summary;
  if (error && !data) return <ErrorBar error={error} onRetry={() => void summary.reload()} />;
  if (!data)
    return (
      <div className={s.grid} aria-busy="true" aria-label="Loading the summary">
        {[0, 1, 2, 3].map((i) => (
          <Skeleton key={i} aria-hidden>
            <SkeletonItem size={72} />
          </Skeleton>
        ))}
      </div>
    );
  const sa = data.serviceAccount;
  const deadlineTile = (
    <Tile title="Deadlines">
      {data.deadlines.length === 0 ? <Text>No upcoming deadlines.</Text> : null}
      <ul className={s.rows}>
        {data.deadlines.map((d) => (
          <li key={d.id}>
            <Text weight="semibold">
              {formatDay(d.date)} — {daysLeftText(d.daysLeft)}
            </Text>
            <br />
            <Caption1 className={s.muted}>
              {DEADLINE_HEADLINES[d.id] ?? d.what}; {plural(d.affectedUsers, 'user')} affected
            </Caption1>
          </li>
        ))}
      </ul>
    </Tile>
  );
  const serviceTile = (
    <Tile title="Service account">
      {!sa.configured ? (
        <div className={s.line}>
          <StatusIcon status="warning" label="Not configured" />
          <Text>Not configured yet</Text>
        </div>
      ) : sa.lastTest ? (
        <>
          <div className={s.line}>
            <StatusIcon status={sa.lastTest.ok ? 'passed' : 'failed'} />
            <Text weight="semibold">{sa.lastTest.ok ? 'Last test passed' : 'Last test failed'}</Text>
          </div>
          <Caption1 className={s.muted}>{formatDateTime(sa.lastTest.ranAt)}</Caption1>
        </>
      ) : (
        <div className={s.line}>
          <StatusIcon status="skipped" label="Not tested" />
          <Text>Configured, not tested yet</Text>
        </div>
      )}
    </Tile>
  );
  return (
    <div className={s.stack}>
      <div className={s.grid}>
        <Tile title="Users needing action">
          <Text className={s.big}>{data.needAction}</Text>
          <Text className={s.muted}>of {plural(data.total, 'user')} still on Exchange or needing to reconnect</Text>
        </Tile>
        {serviceTile}
        {deadlineTile}
      </div>
      <div className={s.grid}>
        <Tile title="By connection kind">
          <ul className={s.rows}>
            {CONNECTION_KINDS.map((k) => (
              <li key={k} className={s.row}>
                <Text>{KIND_LABELS[k]}</Text>
                <Text weight="semibold">{data.byKind[k] ?? 0}</Text>
              </li>
            ))}
          </ul>
        </Tile>
        <Tile title="By state">
          <ul className={s.rows}>
            {CONNECTION_STATES.map((st) => (
              <li key={st} className={s.row}>
                <StateBadge state={st} />
                <Text weight="semibold">{data.byState[st] ?? 0}</Text>
              </li>
            ))}
          </ul>
        </Tile>
      </div>
    </div>
  );
}
