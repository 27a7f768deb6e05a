import { Caption1, Link, makeStyles, Spinner, TableCell, TableRow, Text, tokens } from '@fluentui/react-components';
import { Open16Regular } from '@fluentui/react-icons';
import type { PermissionsResponse } from '../../../src/contract';
import { FEATURE_LABELS, FEATURES } from '../../../src/domain/features';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { StatusIcon } from '../components/StatusIcon';
import { formatDateTime } from '../format';
import type { Resource } from '../useResource';

const useStyles = makeStyles({
  links: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalL, rowGap: tokens.spacingVerticalXS },
  cell: { display: 'flex', alignItems: 'center', columnGap: tokens.spacingHorizontalXS },
  missing: { color: tokens.colorPaletteRedForeground1 },
  muted: { color: tokens.colorNeutralForeground3 },
});

function list(items: string[]) {
  return items.length ? items.join(', ') : '—';
}

export function PermissionMatrix({ permissions }: { permissions: Resource<PermissionsResponse> }) {
  const s = useStyles();
  const { data, error } = permissions;
  return (
    <Section
      title="Permission matrix"
      description="Microsoft Graph application permissions each feature needs, and what the last test of the saved configuration found granted."
    >
      {error && !data ? <ErrorBar error={error} onRetry={() => void permissions.reload()} /> : null}
      {!data && !error ? <Spinner size="small" label="Loading permissions…" labelPosition="after" /> : null}
      {data ? (
        <>
          {data.portal ? (
            <div className={s.links}>
              <Link href={data.portal.apiPermissionsUrl} target="_blank" rel="noopener noreferrer">
                API permissions in the Azure portal <Open16Regular aria-label="(opens in a new window)" />
              </Link>
              <Link href={data.portal.adminConsentUrl} target="_blank" rel="noopener noreferrer">
                Grant admin consent <Open16Regular aria-label="(opens in a new window)" />
              </Link>
            </div>
          ) : null}
          {data.features === null ? (
            <Text>No test of the saved configuration yet. Save the service account and run the test to fill this table.</Text>
          ) : (
            <>
              <Caption1 className={s.muted}>
                From the test of {formatDateTime(data.ranAt)} — {data.ok ? 'passed' : 'failed'}.
              </Caption1>
              <DataTable label="Permission matrix" columns={['Feature', 'Required', 'Granted', 'Missing', 'Available']} minWidth="640px">
                {FEATURES.map((f) => {
                  const m = data.features?.[f];
                  if (!m) return null;
                  return (
                    <TableRow key={f}>
                      <TableCell>{FEATURE_LABELS[f]}</TableCell>
                      <TableCell>{m.required.length ? list(m.required) : 'Not supported app-only'}</TableCell>
                      <TableCell>{list(m.granted)}</TableCell>
                      <TableCell className={m.missing.length ? s.missing : undefined}>{list(m.missing)}</TableCell>
                      <TableCell>
                        <span className={s.cell}>
                          <StatusIcon status={m.available ? 'passed' : 'failed'} label={m.available ? 'Available' : 'Unavailable'} />
                          {m.available ? 'Yes' : 'No'}
                        </span>
                      </TableCell>
                    </TableRow>
                  );
                })}
              </DataTable>
            </>
          )}
        </>
      ) : null}
    </Section>
  );
}
