import { makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useState } from 'react';
import type { AuditResponse, DomainsResponse, PermissionsResponse, ServiceAccountResponse, SummaryResponse } from '../../../src/contract';
import type { Api } from '../api';
import { useResource } from '../useResource';
import { AuditList } from './AuditList';
import { CampaignPanel } from './CampaignPanel';
import { DomainsEditor } from './DomainsEditor';
import { HealthChecks } from './HealthChecks';
import { PermissionMatrix } from './PermissionMatrix';
import { ServiceAccountForm } from './ServiceAccountForm';
import { SummaryTiles } from './SummaryTiles';
import { UsersTable } from './UsersTable';

const useStyles = makeStyles({
  stack: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalL },
});

/** The organisation view (admins only): each section loads on its own, so one failure hides nothing else. */
export default function AdminView({ api }: { api: Api }) {
  const s = useStyles();
  // Bumped after any change, so the read-only parts (summary, matrix, audit, users) catch up.
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  const summary = useResource<SummaryResponse>(api, '/api/admin/summary', version);
  const domains = useResource<DomainsResponse>(api, '/api/admin/domains');
  const account = useResource<ServiceAccountResponse>(api, '/api/admin/service-account');
  const permissions = useResource<PermissionsResponse>(api, '/api/admin/permissions', version);
  const audit = useResource<AuditResponse>(api, '/api/admin/audit', version);

  return (
    <div className={s.stack}>
      <SummaryTiles summary={summary} />
      <DomainsEditor api={api} domains={domains} onSaved={changed} />
      <ServiceAccountForm api={api} account={account} onChanged={changed} />
      <PermissionMatrix permissions={permissions} />
      <HealthChecks api={api} onFinished={changed} />
      <CampaignPanel api={api} onChanged={changed} />
      <UsersTable api={api} version={version} onImported={changed} />
      <AuditList api={api} audit={audit} />
    </div>
  );
}
