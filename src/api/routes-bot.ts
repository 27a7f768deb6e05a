/** POST /api/messages (Bot Framework); the bot itself is handed in by src/server.ts. */
import type { Server } from 'restify';
import type { Logger } from '../log';
import { jsonBody } from './body';
import { pipeline, sendError, step } from './http';
import { activityBody } from './schemas';

export function botRoutes(deps: { logger: Logger; bot: { handleMessages(req: import('restify').Request, res: import('restify').Response): Promise<void> } }) {
  const activity = jsonBody(activityBody);
  return (server: Server) => {
    server.post(
      '/api/messages',
      pipeline(
        deps.logger,
        activity,
        step('handleActivity', async (req, res, s) => {
          // The bot's adapter reads the activity from the request, as restify's body parser would leave it.
          (req as unknown as { body: unknown }).body = activity.of(s);
          try {
            await deps.bot.handleMessages(req, res);
          } catch (err) {
            sendError(res, err, deps.logger);
          }
        }),
      ),
    );
  };
}
