import { describe, expect, it } from 'vitest';
import { parseGatewayArgs, parseHostPort } from './cli.js';

const REQUIRED = [
  '--portal',
  'https://portal.test',
  '--token-file',
  '/etc/postern/token',
  '--listen',
  '0.0.0.0:51820',
  '--endpoint',
  'gw.example.test:51820',
];

describe('parseGatewayArgs', () => {
  it('takes the required flags and fills in defaults', () => {
    const r = parseGatewayArgs(REQUIRED, '1.0.0');
    if (r.ok !== true) throw new Error(JSON.stringify(r));
    expect(r.options.portalUrl.href).toBe('wss://portal.test/gateway/websocket');
    expect(r.options.listen).toEqual({ host: '0.0.0.0', port: 51820 });
    expect(r.options.endpoint).toEqual({ host: 'gw.example.test', port: 51820 });
    expect(r.options).toMatchObject({
      dnsServers: [],
      tunName: 'postern%d',
      metrics: undefined,
      minRuleTimeMs: 5000,
      maxRuleTimeMs: 86_400_000,
      logLevel: 'info',
      mtu: 1420,
    });
  });

  it('takes the optional flags', () => {
    const r = parseGatewayArgs(
      [
        ...REQUIRED,
        '--dns',
        '10.0.0.53',
        '--dns',
        '[fd00::53]:5353',
        '--tun-name',
        'gw0',
        '--metrics',
        '[::1]:9464',
        '--min-rule-time',
        '1',
        '--max-rule-time',
        '60',
        '--log-level',
        'debug',
        '--portal',
        'ws://127.0.0.1:8080/custom',
      ],
      '1.0.0',
    );
    if (r.ok !== true) throw new Error(JSON.stringify(r));
    expect(r.options).toMatchObject({
      dnsServers: ['10.0.0.53', '[fd00::53]:5353'],
      tunName: 'gw0',
      metrics: { host: '::1', port: 9464 },
      minRuleTimeMs: 1000,
      maxRuleTimeMs: 60_000,
      logLevel: 'debug',
    });
    expect(r.options.portalUrl.href).toBe('ws://127.0.0.1:8080/custom');
  });

  it('explains what is wrong instead of throwing', () => {
    expect(parseGatewayArgs([], '1')).toEqual({ ok: false, error: '--portal is required' });
    expect(parseGatewayArgs([...REQUIRED, '--bogus'], '1').ok).toBe(false);
    expect(parseGatewayArgs([...REQUIRED, '--listen', '51820'], '1')).toMatchObject({
      ok: false,
      error: expect.stringContaining('--listen'),
    });
    expect(parseGatewayArgs([...REQUIRED, '--min-rule-time', '10', '--max-rule-time', '5'], '1').ok).toBe(false);
    expect(parseGatewayArgs([...REQUIRED, '--portal', 'ftp://x'], '1').ok).toBe(false);
    expect(parseGatewayArgs(['--version'], '1.2.3')).toEqual({ ok: 'exit', text: '1.2.3' });
  });

  it('parses HOST:PORT with bracketed IPv6', () => {
    expect(parseHostPort('[fd00::1]:443')).toEqual({ host: 'fd00::1', port: 443 });
    expect(typeof parseHostPort('fd00::1:443')).toBe('string');
    expect(typeof parseHostPort('host:0')).toBe('string');
  });
});
