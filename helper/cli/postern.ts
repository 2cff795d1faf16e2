#!/usr/bin/env node
import { runCli } from './run.js';
import { openWithXdg, signIn } from './sign-in.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  env: process.env,
  signIn: async (portalUrl, openBrowser, io) => {
    const result = await signIn({
      portalUrl,
      openBrowser: openBrowser ? openWithXdg : async () => false,
      print: io.err,
    });
    io.err(`Signed in as ${result.account.email}.`);
    return result.token;
  },
});
