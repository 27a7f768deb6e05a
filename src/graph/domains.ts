/** The tenant's verified domains (Graph `/domains`, app-only: Domain.Read.All), offered as mail domains to sync. */
import { createGraphClient } from './client';

/** Verified domain names, lower-cased. */
export async function listVerifiedDomains(graphEndpoint: string, accessToken: string): Promise<string[]> {
  const client = createGraphClient({ graphEndpoint, accessToken });
  const res = (await client.api('/domains').select('id,isVerified').get()) as { value?: Array<{ id: string; isVerified?: boolean }> };
  return (res.value ?? []).filter((d) => d.isVerified).map((d) => d.id.toLowerCase());
}
