import { makeStyles, Spinner, TableCell, TableRow, Text, tokens } from '@fluentui/react-components';
import type { AuditResponse } from '../../../src/contract';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { formatDateTime } from '../format';
import type { Resource } from '../useResource';

const useStyles = makeStyles({
  details: { color: tokens.colorNeutralForeground3, overflowWrap: 'anywhere' },
});

function detailsText(d: Record<string, unknown> | undefined): string {
  if (!d) return '';
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

export function AuditList({ audit }: { audit: Resource<AuditResponse> }) {
  const s = useStyles();
  const { data, error } = audit;
  return (
    <Section title="Audit log" description="Who changed what, most recent first.">
      {error && !data ? <ErrorBar error={error} onRetry={() => void audit.reload()} /> : null}
      {!data && !error ? <Spinner size="small" label="Loading the audit log…" labelPosition="after" /> : null}
      {data && data.items.length === 0 ? <Text>Nothing recorded yet.</Text> : null}
      {data && data.items.length > 0 ? (
        <DataTable label="Audit log" columns={['When', 'Who', 'What', 'Target']} minWidth="560px" maxHeight="420px">
          {data.items.map((it, i) => (
            <TableRow key={`${it.at}-${i}`}>
              <TableCell style={{ whiteSpace: 'nowrap' }}>{formatDateTime(it.at)}</TableCell>
              <TableCell>{it.actor}</TableCell>
              <TableCell>
                {it.action}
                {it.details ? <div className={s.details}>{detailsText(it.details)}</div> : null}
              </TableCell>
              <TableCell>{it.target ?? '—'}</TableCell>
            </TableRow>
          ))}
        </DataTable>
      ) : null}
    </Section>
  );
}
