/**
 * How the sandbox's Graph routes every path it knows and the ones it does not: for each caller,
 * method and path, the status and error code. Graph's segments are case-insensitive (a user's id is
 * kept as sent); a known path with another method is a 405, an unknown path a 400, and /me with an
 * app-only token a 400 before anything else.
 */
import type { Sandbox } from '../../src/sandbox';
import { msalClient, startTestSandbox } from '../helpers/sandbox';

let sb: Sandbox;
const GRAPH = 'https://graph.microsoft.com';
const MEGAN = 'megan.bowen@contoso.com';
const SA = '66193c42-2023-423c-acba-f7f851f7f085';

beforeAll(async () => {
  sb = await startTestSandbox();
});
afterAll(async () => {
  await sb?.close();
});

const REQUESTS: Array<[who: 'user' | 'app', method: string, path: string]> = [
  ['user', 'GET', '/me'],
  ['user', 'POST', '/me'],
  ['user', 'GET', '/ME'],
  ['app', 'GET', '/me'],
  ['app', 'POST', '/me'],
  ['user', 'GET', '/users'],
  ['user', 'POST', '/users'],
  ['user', 'GET', `/users/${MEGAN}`],
  ['user', 'GET', '/users/MEGAN.BOWEN@contoso.com'],
  ['user', 'GET', '/users/nobody@contoso.com'],
  ['user', 'DELETE', '/users/x'],
  ['app', 'GET', '/users'],
  ['app', 'GET', `/users/${MEGAN}`],
  ['app', 'GET', '/Organization'],
  ['app', 'PATCH', '/organization'],
  ['app', 'GET', '/domains'],
  ['app', 'GET', '/domains/CONTOSO.com'],
  ['app', 'GET', '/domains/nope.example'],
  ['app', 'POST', '/domains'],
  ['app', 'GET', '/domains/a/b'],
  ['app', 'GET', '/serviceprincipals'],
  ['app', 'GET', `/servicePrincipals(appId='${SA}')`],
  ['app', 'GET', `/servicePrincipals(appId='${SA}')/appRoleAssignments`],
  ['app', 'GET', `/servicePrincipals(appId='${SA}')/owners`],
  ['app', 'POST', `/servicePrincipals(appId='${SA}')/owners`],
  ['app', 'GET', `/servicePrincipals(appId='${SA}')/a/b`],
  ['app', 'POST', `/servicePrincipals(appId='${SA}')/appRoleAssignments`],
  ['app', 'GET', "/servicePrincipals(appId='not-a-guid')"],
  ['app', 'GET', "/servicePrincipals(appId='00000000-0000-0000-0000-000000000000')"],
  ['app', 'GET', '/servicePrincipals/nope'],
  ['app', 'GET', '/servicePrincipals/nope/appRoleAssignments'],
  ['app', 'POST', '/servicePrincipals/nope/a/b'],
  ['app', 'GET', '/servicePrincipalsX'],
  ['user', 'GET', '/me/calendar'],
  ['user', 'GET', '/me/Calendar'],
  ['user', 'POST', '/me/calendar'],
  ['user', 'GET', '/me/calendars'],
  ['user', 'GET', '/me/calendars/unknown'],
  ['user', 'GET', '/me/calendars/unknown/events'],
  ['user', 'POST', '/me/calendars/unknown/events'],
  ['user', 'GET', '/me/calendar/events'],
  ['user', 'DELETE', '/me/calendar/events'],
  ['user', 'GET', '/me/events'],
  ['user', 'GET', '/me/events/nope'],
  ['user', 'POST', '/me/events/nope'],
  ['user', 'GET', '/me/calendarView?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-01-02T00:00:00Z'],
  ['user', 'GET', '/me/mailFolders'],
  ['user', 'GET', '/me/mailFolders/Inbox'],
  ['user', 'GET', '/me/mailFolders/inbox/messages'],
  ['user', 'GET', '/me/mailFolders/nope/messages'],
  ['user', 'GET', '/me/messages'],
  ['user', 'GET', '/me/messages/x'],
  ['user', 'GET', '/me/todo/lists'],
  ['user', 'GET', '/me/todo/lists/x'],
  ['user', 'GET', '/me/todo/lists/x/tasks'],
  ['user', 'PUT', '/me/todo/lists/x/tasks'],
  ['user', 'GET', '/me/todo'],
  ['user', 'GET', '/me/nothingHere'],
  ['user', 'GET', '/me/calendar/events/x/y'],
  ['user', 'GET', `/users/${MEGAN}/calendar`],
  ['user', 'GET', '/users/adele.vance@contoso.com/calendar'],
  ['user', 'GET', '/users/nobody@contoso.com/calendar'],
  ['user', 'GET', '/me%3Bx'],
  ['user', 'GET', '/me/calendar;x'],
  ['user', 'GET', '/me/%63alendar'],
  ['user', 'GET', '/users/megan.bowen%40contoso.com/calendar'],
  ['user', 'GET', '/users/ad%ZZ/calendar'],
  ['app', 'GET', '/me/calendar'],
  ['app', 'POST', '/me/nothingHere'],
  ['app', 'GET', `/users/${MEGAN}/Calendar`],
  ['app', 'GET', `/users/${MEGAN}/messages`],
  ['app', 'POST', `/users/${MEGAN}/messages`],
  ['app', 'GET', `/users/${MEGAN}/todo/lists`],
  ['app', 'GET', `/users/${MEGAN}/nothing`],
  ['app', 'GET', '/'],
];

/** The service account's app-only token, by client credentials through MSAL (the seed grants Mail.Read and Calendars.Read). */
async function appToken(): Promise<string> {
  const secret = sb.seed.serviceAccount.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
  const r = await msalClient(sb, { clientId: SA, clientSecret: secret.value }).acquireTokenByClientCredential({ scopes: [`${GRAPH}/.default`] });
  return r!.accessToken;
}

const EXPECTED: Record<string, string> = {
  'user GET /me': '200',
  'user POST /me': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'user GET /ME': '200',
  'app GET /me': '400 BadRequest: /me request is only valid with delegated authentication flow.',
  'app POST /me': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'user GET /users': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'user POST /users': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'user GET /users/megan.bowen@contoso.com': '200',
  'user GET /users/MEGAN.BOWEN@contoso.com': '200',
  'user GET /users/nobody@contoso.com': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'user DELETE /users/x': "405 BadRequest: The HTTP method 'DELETE' is not supported for this resource.",
  'app GET /users': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /users/megan.bowen@contoso.com': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /Organization': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app PATCH /organization': "405 BadRequest: The HTTP method 'PATCH' is not supported for this resource.",
  'app GET /domains': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /domains/CONTOSO.com': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /domains/nope.example': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app POST /domains': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'app GET /domains/a/b': "400 BadRequest: Resource not found for the segment 'b'.",
  'app GET /serviceprincipals': "400 BadRequest: Resource not found for the segment 'serviceprincipals'.",
  "app GET /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')":
    '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  "app GET /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')/appRoleAssignments":
    '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  "app GET /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')/owners": "400 BadRequest: Resource not found for the segment 'owners'.",
  "app POST /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')/owners":
    "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  "app GET /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')/a/b": "400 BadRequest: Resource not found for the segment 'b'.",
  "app POST /servicePrincipals(appId='66193c42-2023-423c-acba-f7f851f7f085')/appRoleAssignments":
    "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  "app GET /servicePrincipals(appId='not-a-guid')": "400 BadRequest: Resource not found for the segment 'servicePrincipals(appId='not-a-guid')'.",
  "app GET /servicePrincipals(appId='00000000-0000-0000-0000-000000000000')":
    '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /servicePrincipals/nope': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app GET /servicePrincipals/nope/appRoleAssignments': '403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  'app POST /servicePrincipals/nope/a/b': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'app GET /servicePrincipalsX': "400 BadRequest: Resource not found for the segment 'servicePrincipalsX'.",
  'user GET /me/calendar': '200',
  'user GET /me/Calendar': '200',
  'user POST /me/calendar': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'user GET /me/calendars': '200',
  'user GET /me/calendars/unknown': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user GET /me/calendars/unknown/events': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user POST /me/calendars/unknown/events': '403 ErrorAccessDenied: Access is denied. Check credentials and try again.',
  'user GET /me/calendar/events': '200',
  'user DELETE /me/calendar/events': "405 BadRequest: The HTTP method 'DELETE' is not supported for this resource.",
  'user GET /me/events': '200',
  'user GET /me/events/nope': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user POST /me/events/nope': "405 BadRequest: The HTTP method 'POST' is not supported for this resource.",
  'user GET /me/calendarView?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-01-02T00:00:00Z': '200',
  'user GET /me/mailFolders': '200',
  'user GET /me/mailFolders/Inbox': '200',
  'user GET /me/mailFolders/inbox/messages': '200',
  'user GET /me/mailFolders/nope/messages': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user GET /me/messages': '200',
  'user GET /me/messages/x': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user GET /me/todo/lists': '200',
  'user GET /me/todo/lists/x': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user GET /me/todo/lists/x/tasks': '404 ErrorItemNotFound: The specified object was not found in the store.',
  'user PUT /me/todo/lists/x/tasks': "405 BadRequest: The HTTP method 'PUT' is not supported for this resource.",
  'user GET /me/todo': "400 BadRequest: Resource not found for the segment 'todo'.",
  'user GET /me/nothingHere': "400 BadRequest: Resource not found for the segment 'nothingHere'.",
  'user GET /me/calendar/events/x/y': "400 BadRequest: Resource not found for the segment 'y'.",
  'user GET /users/megan.bowen@contoso.com/calendar': '200',
  'user GET /users/adele.vance@contoso.com/calendar': '403 ErrorAccessDenied: Access is denied. Check credentials and try again.',
  'user GET /users/nobody@contoso.com/calendar': "404 ErrorInvalidUser: The requested user 'nobody@contoso.com' is invalid.",
  'user GET /me%3Bx': "400 BadRequest: Resource not found for the segment 'me%3Bx'.",
  'user GET /me/calendar;x': "400 BadRequest: Resource not found for the segment 'calendar;x'.",
  'user GET /me/%63alendar': "400 BadRequest: Resource not found for the segment '%63alendar'.",
  'user GET /users/megan.bowen%40contoso.com/calendar': '200',
  'user GET /users/ad%ZZ/calendar': "404 ErrorInvalidUser: The requested user 'ad%ZZ' is invalid.",
  'app GET /me/calendar': '400 BadRequest: /me request is only valid with delegated authentication flow.',
  'app POST /me/nothingHere': '400 BadRequest: /me request is only valid with delegated authentication flow.',
  'app GET /users/megan.bowen@contoso.com/Calendar': '200',
  'app GET /users/megan.bowen@contoso.com/messages': '200',
  'app POST /users/megan.bowen@contoso.com/messages': '403 ErrorAccessDenied: Access is denied. Check credentials and try again.',
  'app GET /users/megan.bowen@contoso.com/todo/lists': '403 ErrorAccessDenied: Access is denied. Check credentials and try again.',
  'app GET /users/megan.bowen@contoso.com/nothing': "400 BadRequest: Resource not found for the segment 'nothing'.",
  'app GET /': "400 BadRequest: Resource not found for the segment ''.",
};

test('every caller, method and path gets the status and error code Graph would give', async () => {
  const tokens = {
    user: await sb.issueToken({
      upn: MEGAN,
      audience: GRAPH,
      scp: 'User.Read Mail.ReadWrite Calendars.ReadWrite Tasks.ReadWrite',
      appId: sb.productApp.clientId,
    }),
    app: await appToken(),
  };
  const actual: Record<string, string> = {};
  for (const [who, method, path] of REQUESTS) {
    const res = await fetch(`${sb.graphEndpoint}/v1.0${path}`, { method, headers: { authorization: `Bearer ${tokens[who]}` } });
    const text = await res.text();
    const body = text ? JSON.parse(text) : undefined;
    actual[`${who} ${method} ${path}`] = `${res.status}${body?.error ? ` ${body.error.code}: ${body.error.message}` : ''}`;
  }
  expect(actual).toEqual(EXPECTED);
});
