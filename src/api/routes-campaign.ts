/**
 * The reconnect campaign (the README's API table): `GET`/`POST /api/admin/campaign` for admins, and
 * `POST /api/me/campaign/opened`, which the tab calls when a nudge's link opened it (the funnel's
 * "opened the tab"). Also the campaign's face towards the bot (`remind`, `status`, removals).
 */
import type { Server } from 'restify';
import type { CampaignResponse } from '../contract';
import type { Logger } from '../log';
import type { CampaignService } from '../services/campaign';
import type { CampaignBotServices } from '../services/ports';
import { authenticate, requireAdmin, userOf, type AuthDeps } from './auth-steps';
import { jsonBody } from './body';
import { pipeline, sendJson, step } from './http';
import { campaignBody } from './schemas';

export interface CampaignRouteDeps extends AuthDeps {
  logger: Logger;
  campaign: CampaignService;
}

export function campaignRoutes(deps: CampaignRouteDeps) {
  const auth = authenticate(deps);
  const admin = (...steps: Parameters<typeof pipeline>[1][]) => pipeline(deps.logger, auth, requireAdmin, ...steps);
  const action = jsonBody(campaignBody);

  return (server: Server) => {
    server.get(
      '/api/admin/campaign',
      admin(
        step('readCampaign', async (_req, res, s) => {
          const body: CampaignResponse = { campaign: await deps.campaign.view(userOf(s).tenantId, { permission: true }) };
          sendJson(res, 200, body);
        }),
      ),
    );
    server.post(
      '/api/admin/campaign',
      admin(
        action,
        step('actOnCampaign', async (_req, res, s) => {
          const user = userOf(s);
          const body: CampaignResponse = { campaign: await deps.campaign.act(user.tenantId, user.upn, action.of(s)) };
          sendJson(res, 200, body);
        }),
      ),
    );
    server.post(
      '/api/me/campaign/opened',
      pipeline(
        deps.logger,
        auth,
        step('recordOpened', async (_req, res, s) => {
          const user = userOf(s);
          await deps.campaign.opened(user.tenantId, user.upn);
          res.status(204);
          res.end();
        }),
      ),
    );
  };
}

/** What the bot asks of the campaign. */
export function campaignBotServices(campaign: CampaignService): CampaignBotServices {
  return {
    async remind(tenantId, actor) {
      const t = tenantId.toLowerCase();
      const { status } = await campaign.view(t);
      return campaign.act(t, actor, { action: status === 'idle' ? 'start' : status === 'paused' ? 'resume' : 'step' });
    },
    async funnel(tenantId) {
      const view = await campaign.view(tenantId.toLowerCase());
      return view.status === 'idle' && view.funnel.targeted === 0 ? undefined : view.funnel;
    },
    botRemoved: (tenantId, who) => campaign.botRemoved(tenantId.toLowerCase(), who),
  };
}
