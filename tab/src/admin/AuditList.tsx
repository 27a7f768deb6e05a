import { makeStyles, Spinner, TableCell, TableRow, Text, tokens } from '@fluentui/react-components';
import { useState } from 'react';
import type { AuditResponse } from '../../../src/contract';
import type { Api } from '../api';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { formatDateTime } from '../format';
import type { Resource } from '../useResource';
import { HistoryButton, HistoryDialog } from './HistoryDialog';

const useStyles = makeStyles({
  details: { color: tokens.colorNeutralForeground3, overflowWrap: 'anywhere' },
  target: { display: 'inline-flex', alignItems: 'center', columnGap: tokens.spacingHorizontalXS, overflowWrap: 'anywhere' },
});

/** An entry about a user's connection: its target is their UPN, whose history an admin may want next. */
function connectionTarget(it: AuditResponse['items'][number]): string | undefined {
  return it.action.startsWith('connection.') && it.target?.includes('@') ? it.target : undefined;
}

function detailsText(d: Record<string, unknown> | undefined): string {
  if (!d) return '';
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

/**
 * The audit log. An entry about a user's connection opens that user's history: the only way in for
 * one whose connections are all gone, and so no longer in the Users table.
 */
export function AuditList({ api, audit }: { api: Api; audit: Resource<AuditResponse> }) {
  const s = useStyles();
  const { data, error } = audit;
  const [historyOf, setHistoryOf] = useState<{ upn: string }>();
  const [historyOpened, setHistoryOpened] = useState(0);
  return (
    <Section title="Audit log" description="Who changed what, most recent first.">
      {error && !data ? <ErrorBar error={error} onRetry={() => void audit.reload()} /> : null}
      {!data && !error ? <Spinner size="small" label="Loading the audit log…" labelPosition="after" /> : null}
      {data && data.items.length === 0 ? <Text>Nothing recorded yet.</Text> : null}
      {data && data.items.length > 0 ? (
        <DataTable label="Audit log" columns={['When', 'Who', 'What', 'Target']} minWidth="560px" maxHeight="420px">
          {data.items.map((it, i) => {
            const upn = connectionTarget(it);
            return (
              <TableRow key={`${it.at}-${i}`}>
                <TableCell style={{ whiteSpace: 'nowrap' }}>{formatDateTime(it.at)}</TableCell>
                <TableCell>{it.actor}</TableCell>
                <TableCell>
                  {it.action}
                  {it.details ? <div className={s.details}>{detailsText(it.details)}</div> : null}
                </TableCell>
                <TableCell>
                  <span className={s.target}>
                    {it.target ?? '—'}
                    {upn ? (
                      <HistoryButton
                        upn={upn}
                        onOpen={() => {
                          setHistoryOf({ upn });
                          setHistoryOpened((n) => n + 1);
                        }}
                      />
                    ) : null}
                  </span>
                </TableCell>
              </TableRow>
            );
          })}
        </DataTable>
      ) : null}
      <HistoryDialog api={api} user={historyOf} opened={historyOpened} onClose={() => setHistoryOf(undefined)} />
    </Section>
  );
}
