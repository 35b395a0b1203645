// PM2 process file for the vault-audit daemon.
//
//   pm2 start contrib/ecosystem.config.js
//   pm2 logs vault-audit        // its messages (stderr)
//   pm2 stop vault-audit        // SIGINT (as SIGTERM): finishes the batch in hand, exits 0;
//                               // SIGKILL only after kill_timeout
//   pm2 save && pm2 startup     // start it at boot
module.exports = {
  apps: [
    {
      name: "vault-audit",
      script: "vault-audit",
      args: "daemon",
      interpreter: "none",
      env: {
        VAULT_PATH: process.env.HOME + "/AI_Employee_Vault",
        AUDIT_DRY_RUN: "false",
      },
      autorestart: true,
      kill_timeout: 10000,
    },
  ],
};
