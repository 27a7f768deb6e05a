/** POST /api/messages (Bot Framework); the bot itself is handed in by src/server.ts. */
import type { Server } from 'restify';
import type { Logger } from '../log';
import { AppError } from '../domain/errors';
import { pipeline, rawBody, sendError, step } from './http';

export function botRoutes(deps: { logger: Logger; bot: { handleMessages(req: import('restify').Request, res: import('restify').Response): Promise<void> } }) {
  return (server: Server) => {
    server.post(
      '/api/messages',
      pipeline(
        deps.logger,
        step('parseActivity', (req, res) => {
          const raw = rawBody(req);
          const type = (req.header('content-type') ?? '').toLowerCase();
          if (!type.startsWith('application/json')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { message: 'Bot Framework activities are application/json.' });
          let activity: unknown;
          try {
            activity = JSON.parse(raw?.toString('utf8') ?? '');
          } catch {
            throw new AppError('VALIDATION_FAILED', { message: 'The activity is not valid JSON.' });
          }
          if (!activity || typeof activity !== 'object' || typeof (activity as { type?: unknown }).type !== 'string') {
            throw new AppError('VALIDATION_FAILED', { message: 'The activity must be an object with a "type".' });
          }
          (req as unknown as { body: unknown }).body = activity;
          void res;
        }),
        step('handleActivity', async (req, res) => {
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
