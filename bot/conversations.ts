/** Reading Teams activities: tenant, scope, conversation id and the reference to store. */
import { BlockList, isIP } from 'node:net';
import { TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import type { ConversationScope } from '../src/store/types';

/** Tenant ids are GUIDs; the product keys every record by the lower-cased form. */
export function tenantOf(activity: Partial<Activity>): string | undefined {
  const fromConversation = (activity.conversation as { tenantId?: unknown } | undefined)?.tenantId;
  const fromChannelData = (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
  const id = typeof fromConversation === 'string' && fromConversation ? fromConversation : typeof fromChannelData === 'string' ? fromChannelData : undefined;
  return id?.trim().toLowerCase() || undefined;
}

export function scopeOf(activity: Partial<Activity>): ConversationScope {
  const type = activity.conversation?.conversationType;
  if (type === 'channel') return 'team';
  if (type === 'groupChat') return 'groupChat';
  return 'personal';
}

/** A channel thread reply carries `;messageid=…`; alerts go to the channel itself. */
export function conversationIdOf(activity: Partial<Activity>): string | undefined {
  const id = activity.conversation?.id;
  return typeof id === 'string' && id ? id.split(';messageid=')[0] : undefined;
}

/** The reference used later for proactive messages (continueConversationAsync). */
export function referenceOf(activity: Partial<Activity>): Partial<ConversationReference> {
  const ref = TurnContext.getConversationReference(activity);
  const id = conversationIdOf(activity);
  if (ref.conversation && id) ref.conversation = { ...ref.conversation, id };
  // A reference names a conversation, not the message it came from.
  delete ref.activityId;
  return ref;
}

export function isLoopbackUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const host = new URL(value).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/** 127.0.0.0/8 and ::1; BlockList also matches their IPv4-mapped IPv6 forms (::ffff:127.x.y.z). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a TCP peer address (req.socket.remoteAddress) is this machine. The anonymous bot serves
 * only such peers: the address comes from the connection itself, never from the activity body.
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Headers a proxy or tunnel (Dev Tunnels, ngrok, a reverse proxy) adds for a request it relays. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

/**
 * A request made on this machine: a loopback peer that no proxy relayed. A tunnel's client connects
 * from loopback too, so a relayed request is not local whatever its peer address.
 */
export function isLocalRequest(remoteAddress: string | undefined, headers: Record<string, string | string[] | undefined>): boolean {
  return isLoopbackPeer(remoteAddress) && !FORWARDING_HEADERS.some((h) => headers[h] !== undefined);
}

/** The channel Teams (and the Agents Toolkit's local debugging, which is Teams itself) uses. */
export const TEAMS_CHANNEL = 'msteams';
