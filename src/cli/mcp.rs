//! `vault-audit mcp`: a Model Context Protocol server over stdio, on the
//! official Rust SDK (`rmcp`), with four tools: `log_action`, `query_logs`,
//! `verify` and `stats`.
//!
//! The SDK speaks the protocol: the `initialize` handshake (2025-11-25 and
//! the older revisions a client offers), the stateless 2026-07-28 revision
//! (`server/discover`), `ping`, `tools/list`, `tools/call`; a JSON-RPC batch
//! is refused with Invalid Request, as the spec asks since 2025-06-18. The
//! tools' `inputSchema` and `outputSchema` come from the types in `tools.rs`.
//! Tool failures (a bad argument, an entry that does not validate, a write
//! that failed) are tool results with `isError: true` naming every problem,
//! so the agent can correct itself; protocol errors are JSON-RPC errors.
//! Nothing but JSON-RPC goes to stdout.

mod calls;
pub mod tools;

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode,
    Implementation, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use crate::chain::ChainKey;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::index::Index;
use crate::logger::AuditLogger;
use crate::verify::Report;
use tools::{Arguments, Found, LogAction, Logged, QueryLogs};

/// What the server tells a client about itself.
const INSTRUCTIONS: &str = "Record what you do with log_action (decisions: question, options, chosen, confidence), read your history with query_logs, check the log's integrity with verify and its size with stats.";

/// Serves until stdin closes; returns the exit code.
pub fn run(config: &Config, _io: &mut Io<'_>) -> Result<u8, CliError> {
    let given = config.vault()?;
    let vault = crate::cli::agent::resolve_vault(config, given)?.ok_or_else(|| {
        CliError::Usage(format!(
            "{} is not a vault (no Logs/, Dashboard.md or .obsidian/, nor one folder below it that is); pass the vault's folder, or --init to make this one",
            given.display()
        ))
    })?;
    // Dry-run lines go to stderr: stdout carries only JSON-RPC.
    let logger = config
        .builder_for(&vault, config.dry_run)
        .dry_run_output(std::io::stderr())
        .build()?;
    let server = Server::new(
        logger,
        config.agent_id().to_owned(),
        config.chain_key.clone(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::unavailable("start the MCP server's runtime", e))?;
    Ok(runtime.block_on(serve(server)))
}

/// Runs the protocol over stdin and stdout until the client leaves.
async fn serve(server: Server) -> u8 {
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        // The client left before it said hello: nothing to do.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return exit::OK,
        Err(e) => {
            tracing::error!("mcp: {e}");
            return exit::IO;
        }
    };
    match running.waiting().await {
        Ok(_) => exit::OK,
        Err(e) => {
            tracing::error!("mcp: {e}");
            exit::IO
        }
    }
}

/// The server: the logger, the default actor and the tools.
#[derive(Clone)]
pub struct Server {
    logger: Arc<AuditLogger>,
    actor: String,
    chain_key: ChainKey,
    tool_router: ToolRouter<Server>,
}

/// Why a tool call failed: a tool result with `isError`, for the agent to read.
#[derive(Debug, thiserror::Error)]
enum ToolError {
    /// Arguments not accepted, every one named by its argument name
    /// (entry problems already redacted whole).
    #[error("{}", .0.join("; "))]
    Arguments(Vec<String>),
    /// The entry was not written.
    #[error(transparent)]
    Write(Box<crate::Error>),
    /// The day files could not be read.
    #[error("could not read the logs: {0}")]
    Read(#[from] std::io::Error),
}

#[tool_router]
impl Server {
    /// A server logging with `logger`; entries that name no actor get
    /// `actor`; `verify` checks the chains with `chain_key`.
    pub fn new(logger: AuditLogger, actor: String, chain_key: ChainKey) -> Self {
        Server {
            logger: Arc::new(logger),
            actor,
            chain_key,
            tool_router: Self::tool_router(),
        }
    }

    /// Record an action (or, with question, a decision) in the vault's
    /// audit log. Secrets are redacted and long values cut before anything
    /// is written; the stored entry comes back.
    #[tool(name = "log_action")]
    async fn log_action(
        &self,
        Parameters(args): Parameters<Arguments<LogAction>>,
    ) -> Result<Json<Logged>, String> {
        self.log(args.object)
            .map(Json)
            .map_err(|e| self.message(&e))
    }

    /// Read the audit log: the entries matching every filter given, in time
    /// order, the last `limit` of them, and how many matched.
    #[tool(name = "query_logs", annotations(read_only_hint = true))]
    async fn query_logs(
        &self,
        Parameters(args): Parameters<Arguments<QueryLogs>>,
    ) -> Result<Json<Found>, String> {
        self.query(&args.object)
            .map(Json)
            .map_err(|e| self.message(&e))
    }

    /// Check the audit log's integrity: every day file, its counts, entries
    /// and hash chain, and the index (as `vault-audit verify`). `ok` false
    /// lists the problems; it changes nothing.
    #[tool(name = "verify", annotations(read_only_hint = true))]
    async fn verify(&self) -> Result<Json<Report>, String> {
        let checks = crate::verify::Checks::default();
        crate::verify::verify_with(self.logger.vault(), &self.chain_key, &checks)
            .map(Json)
            .map_err(|e| self.message(&ToolError::Read(e)))
    }

    /// How much is logged: the day files, oldest and newest, and the
    /// entries and size of each, counted afresh (as Logs/index.json has them).
    #[tool(name = "stats", annotations(read_only_hint = true))]
    async fn stats(&self) -> Result<Json<Index>, String> {
        crate::index::rebuild(self.logger.vault(), self.logger.now())
            .map(Json)
            .map_err(|e| self.message(&ToolError::Read(e)))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    /// Calls a tool; an unknown one is named, with the tools there are.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_router.has_route(&request.name) {
            let names: Vec<String> = self
                .tool_router
                .list_all()
                .into_iter()
                .map(|t| t.name.into_owned())
                .collect();
            let name = self.logger.redactor().text(&request.name).into_owned();
            return Err(ErrorData::invalid_params(
                format!("unknown tool {name:?}; tools: {}", names.join(", ")),
                None,
            ));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    /// An unknown method, named redacted (it may be anything a client
    /// sent); or a `tools/call` whose params the SDK could not read.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        if request.method == "tools/call" {
            return Err(ErrorData::invalid_params(
                "tools/call: params must be {\"name\": a tool, \"arguments\": a JSON object}",
                None,
            ));
        }
        let method = self.logger.redactor().text(&request.method).into_owned();
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
            None,
        ))
    }

    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(INSTRUCTIONS);
        info.protocol_version = ProtocolVersion::V_2025_11_25;
        info.server_info = Implementation::new("vault-audit", env!("CARGO_PKG_VERSION"));
        info
    }
}

impl Server {
    /// A failure's message for the agent, redacted (it may quote arguments).
    fn message(&self, error: &ToolError) -> String {
        self.logger.redactor().text(&error.to_string()).into_owned()
    }

    fn log(&self, args: serde_json::Map<String, Value>) -> Result<Logged, ToolError> {
        let red = self.logger.redactor();
        let (value, mut refused) = calls::entry_value(args, &self.actor, red);
        let entry = match self.logger.entry_from_value(value) {
            Ok(entry) if refused.is_empty() => entry,
            Ok(_) => return Err(ToolError::Arguments(refused)),
            Err(e) => {
                refused.push(red.error(e).to_string());
                return Err(ToolError::Arguments(refused));
            }
        };
        let receipt = self.logger.log(entry).map_err(|e| match e {
            crate::Error::Invalid { source, .. } => {
                ToolError::Arguments(vec![red.error(source).to_string()])
            }
            other => ToolError::Write(Box::new(other)),
        })?;
        let stored = receipt
            .entries
            .first()
            .and_then(|e| serde_json::to_value(e).ok());
        let file = receipt.files.last();
        Ok(Logged {
            ok: true,
            path: file.map(|f| self.logger.vault().relative(&f.path).into_owned()),
            total_entries: file.map(|f| f.total_entries),
            dry_run: receipt.dry_run,
            entry: stored,
        })
    }

    fn query(&self, args: &serde_json::Map<String, Value>) -> Result<Found, ToolError> {
        let red = self.logger.redactor();
        let (filter, limit) =
            calls::query_args(args, self.logger.now(), red).map_err(ToolError::Arguments)?;
        let mut matched = 0u64;
        let mut last: VecDeque<Value> = VecDeque::new();
        let mut keep = |line: &str| {
            matched += 1;
            if last.len() as u64 == limit {
                last.pop_front();
            }
            last.push_back(serde_json::from_str(line).unwrap_or(Value::Null));
        };
        // The main files (a replica's logger reads them too), then what
        // replicas wrote that the primary has not taken in yet.
        let vault = self.logger.vault().primary();
        crate::query::scan(&vault, &filter, true, |line, _| {
            keep(line);
            ControlFlow::Continue(())
        })?;
        for line in crate::cli::query::untaken_matching(&vault, &filter)? {
            keep(&line);
        }
        let entries: Vec<Value> = last.into();
        Ok(Found {
            ok: true,
            matched,
            returned: entries.len() as u64,
            entries,
        })
    }
}
