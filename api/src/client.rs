//! The client: address and token resolution, one typed method per endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::Error;
use crate::query::{QueryMeta, QueryOptions};
use crate::types::*;

/// Where a Nomad-compatible agent listens unless told otherwise.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// How long to wait to connect: an agent on the address answers at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a non-blocking request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Slack over a blocking query's wait (the agent adds jitter and may be busy).
const BLOCKING_SLACK: Duration = Duration::from_secs(30);
/// The longest an agent lets an `exec` command run.
const EXEC_WAIT: Duration = Duration::from_secs(300);

/// Characters kept as they are in a path segment (IDs hold `/` only in
/// dispatched and periodic children, which must be escaped).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A client of one agent.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the agent at `address` (`http://host:port`; a bare
    /// `host:port` gets `http://`).
    pub fn new(address: &str) -> Result<Client, Error> {
        let invalid = |reason: &str| Error::InvalidAddress {
            address: address.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = address.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        if with_scheme.starts_with("https://") {
            return Err(invalid("TLS is not supported by this build"));
        }
        let url = reqwest::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" || url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("want an http URL with a host"));
        }
        let base = with_scheme.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Client {
            base,
            token: None,
            http,
        })
    }

    /// A client of the agent named by `flag` (the `-address` flag), else
    /// `SCHED_ADDR`, else `NOMAD_ADDR`, else [`DEFAULT_ADDRESS`]; with the
    /// token in `SCHED_TOKEN` or `NOMAD_TOKEN`.
    pub fn from_env(flag: Option<&str>) -> Result<Client, Error> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let address = flag
            .map(str::to_string)
            .or_else(|| env("SCHED_ADDR"))
            .or_else(|| env("NOMAD_ADDR"))
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        let mut c = Client::new(&address)?;
        c.token = env("SCHED_TOKEN").or_else(|| env("NOMAD_TOKEN"));
        Ok(c)
    }

    /// Sends `token` as `X-Nomad-Token` on every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// The agent's address.
    pub fn address(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(reqwest::Response, QueryMeta), Error> {
        let mut url = format!("{}{}", self.base, path);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            if !v.is_empty() {
                url.push('=');
                url.push_str(&seg(v));
            }
        }
        let mut req = self.http.request(method, &url).timeout(timeout);
        if let Some(t) = &self.token {
            req = req.header("X-Nomad-Token", t);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let meta = meta_of(&resp);
        let status = resp.status();
        if !status.is_success() {
            let message = resp.text().await.map_err(|e| self.transport(e))?;
            return Err(Error::Api {
                status: status.as_u16(),
                message: message.trim().to_string(),
            });
        }
        Ok((resp, meta))
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                address: self.base.clone(),
            }
        } else {
            Error::Unreachable {
                address: self.base.clone(),
                source: e,
            }
        }
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<T, Error> {
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    /// A read with query options; answers the body and the query meta.
    pub async fn query<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(T, QueryMeta), Error> {
        let timeout = if q.index > 0 {
            q.wait.unwrap_or(Duration::from_secs(300)) + BLOCKING_SLACK
        } else {
            REQUEST_TIMEOUT
        };
        let (resp, meta) = self
            .send(Method::GET, path, &q.pairs(), None, timeout)
            .await?;
        Ok((self.decode(path, resp).await?, meta))
    }

    /// A write (`PUT`, `POST` or `DELETE`) with an optional JSON body.
    pub async fn write<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, Error> {
        let body = body
            .map(|b| {
                serde_json::to_vec(b).map_err(|e| Error::Decode {
                    path: path.to_string(),
                    reason: format!("request body: {e}"),
                })
            })
            .transpose()?;
        let (resp, _) = self
            .send(method, path, query, body, REQUEST_TIMEOUT)
            .await?;
        self.decode(path, resp).await
    }

    async fn write_empty(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(), Error> {
        self.send(method, path, query, None, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    // ---- jobs ----

    /// `GET /v1/jobs`.
    pub async fn jobs(&self, q: &QueryOptions) -> Result<(Vec<JobListStub>, QueryMeta), Error> {
        self.query("/v1/jobs", q).await
    }

    /// `GET /v1/job/:id`.
    pub async fn job(&self, id: &str, q: &QueryOptions) -> Result<(Job, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}", seg(id)), q).await
    }

    /// `PUT /v1/jobs`: registers a job (or a new version).
    pub async fn register(&self, job: &Job) -> Result<JobRegisterResponse, Error> {
        self.write(Method::PUT, "/v1/jobs", &[], Some(&json!({"Job": job})))
            .await
    }

    /// `PUT /v1/jobs` only if the job's modify index is still `index`
    /// (0: only if it does not exist yet).
    pub async fn register_check_index(
        &self,
        job: &Job,
        index: u64,
    ) -> Result<JobRegisterResponse, Error> {
        let body = json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": index});
        self.write(Method::PUT, "/v1/jobs", &[], Some(&body)).await
    }

    /// `DELETE /v1/job/:id`: stops the job, or removes it with `purge`.
    pub async fn deregister(
        &self,
        id: &str,
        namespace: Option<&str>,
        purge: bool,
    ) -> Result<EvalResponse, Error> {
        let mut q = vec![("purge", purge.to_string())];
        if let Some(ns) = namespace {
            q.push(("namespace", ns.to_string()));
        }
        self.write::<Value, _>(Method::DELETE, &format!("/v1/job/{}", seg(id)), &q, None)
            .await
    }

    /// `PUT /v1/job/:id/plan`: what registering `job` would do.
    pub async fn plan(&self, job: &Job, diff: bool) -> Result<JobPlanResponse, Error> {
        let id = job.id.clone().unwrap_or_default();
        let body = json!({"Job": job, "Diff": diff});
        self.write(
            Method::PUT,
            &format!("/v1/job/{}/plan", seg(&id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `GET /v1/job/:id/allocations`.
    pub async fn job_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}/allocations", seg(id)), q)
            .await
    }

    /// `GET /v1/job/:id/evaluations`.
    pub async fn job_evaluations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<Evaluation>, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}/evaluations", seg(id)), q)
            .await
    }

    /// `GET /v1/job/:id/versions`, newest first.
    pub async fn job_versions(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<Job>, QueryMeta), Error> {
        let (v, meta): (Value, QueryMeta) = self
            .query(&format!("/v1/job/{}/versions", seg(id)), q)
            .await?;
        let versions = serde_json::from_value(v.get("Versions").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::Decode {
                path: "versions".into(),
                reason: e.to_string(),
            })?;
        Ok((versions, meta))
    }

    /// `GET /v1/job/:id/deployments`, newest first.
    pub async fn job_deployments(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<Deployment>, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}/deployments", seg(id)), q)
            .await
    }

    /// `GET /v1/job/:id/deployment`: the newest deployment, `None` when the
    /// job never had one.
    pub async fn job_latest_deployment(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Option<Deployment>, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}/deployment", seg(id)), q)
            .await
    }

    /// `GET /v1/job/:id/summary`.
    pub async fn job_summary(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(JobSummary, QueryMeta), Error> {
        self.query(&format!("/v1/job/{}/summary", seg(id)), q).await
    }

    /// `PUT /v1/job/:id/evaluate`: a new evaluation of the job as it is.
    pub async fn evaluate_job(&self, id: &str) -> Result<EvalResponse, Error> {
        self.write::<Value, _>(
            Method::PUT,
            &format!("/v1/job/{}/evaluate", seg(id)),
            &[],
            None,
        )
        .await
    }

    /// `PUT /v1/job/:id/revert`.
    pub async fn revert(&self, id: &str, version: u64) -> Result<JobRegisterResponse, Error> {
        let body = json!({"JobID": id, "JobVersion": version});
        self.write(
            Method::PUT,
            &format!("/v1/job/{}/revert", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/job/:id/dispatch`; `payload` is sent base64-encoded by the
    /// caller (Nomad's wire format).
    pub async fn dispatch(
        &self,
        id: &str,
        meta: &BTreeMap<String, String>,
        payload_base64: Option<&str>,
        idempotency_token: Option<&str>,
    ) -> Result<DispatchResponse, Error> {
        let body = json!({"JobID": id, "Meta": meta, "Payload": payload_base64, "IdempotencyToken": idempotency_token});
        self.write(
            Method::PUT,
            &format!("/v1/job/{}/dispatch", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/job/:id/periodic/force`.
    pub async fn periodic_force(&self, id: &str) -> Result<EvalResponse, Error> {
        self.write::<Value, _>(
            Method::PUT,
            &format!("/v1/job/{}/periodic/force", seg(id)),
            &[],
            None,
        )
        .await
    }

    /// `PUT /v1/job/:id/scale`.
    pub async fn scale(
        &self,
        id: &str,
        group: &str,
        count: i64,
    ) -> Result<JobRegisterResponse, Error> {
        let body = json!({"Count": count, "Target": {"Job": id, "Group": group}});
        self.write(
            Method::PUT,
            &format!("/v1/job/{}/scale", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/jobs/parse`: HCL to the job it describes.
    pub async fn parse_job(&self, hcl: &str, canonicalize: bool) -> Result<Job, Error> {
        let body = json!({"JobHCL": hcl, "Canonicalize": canonicalize});
        self.write(Method::PUT, "/v1/jobs/parse", &[], Some(&body))
            .await
    }

    /// `PUT /v1/validate/job`.
    pub async fn validate_job(&self, job: &Job) -> Result<JobValidateResponse, Error> {
        self.write(
            Method::PUT,
            "/v1/validate/job",
            &[],
            Some(&json!({"Job": job})),
        )
        .await
    }

    // ---- allocations, evaluations, deployments ----

    /// `GET /v1/allocations`.
    pub async fn allocations(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        self.query("/v1/allocations", q).await
    }

    /// `GET /v1/allocation/:id` (a unique prefix works too).
    pub async fn allocation(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Allocation, QueryMeta), Error> {
        self.query(&format!("/v1/allocation/{}", seg(id)), q).await
    }

    /// `PUT /v1/allocation/:id/stop`.
    pub async fn stop_allocation(&self, id: &str) -> Result<EvalResponse, Error> {
        self.write::<Value, _>(
            Method::PUT,
            &format!("/v1/allocation/{}/stop", seg(id)),
            &[],
            None,
        )
        .await
    }

    /// `POST /v1/client/allocation/:id/signal`: `signal` to `task`, or to
    /// every running task of the allocation.
    pub async fn signal_allocation(
        &self,
        id: &str,
        task: Option<&str>,
        signal: &str,
    ) -> Result<(), Error> {
        let body = json!({"Task": task.unwrap_or(""), "Signal": signal});
        self.write::<_, Value>(
            Method::POST,
            &format!("/v1/client/allocation/{}/signal", seg(id)),
            &[],
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `POST /v1/client/allocation/:id/restart`: restarts `task` in place,
    /// or every running task of the allocation.
    pub async fn restart_allocation(
        &self,
        id: &str,
        task: Option<&str>,
        all_tasks: bool,
    ) -> Result<(), Error> {
        let body = json!({"TaskName": task.unwrap_or(""), "AllTasks": all_tasks});
        self.write::<_, Value>(
            Method::POST,
            &format!("/v1/client/allocation/{}/restart", seg(id)),
            &[],
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `POST /v1/client/allocation/:id/exec`: runs `command` once in `task`
    /// (or the allocation's only task) and answers its exit code and output.
    /// Waits as long as the agent lets a command run (5 minutes) and a little.
    pub async fn exec_allocation(
        &self,
        id: &str,
        task: Option<&str>,
        command: &[String],
    ) -> Result<ExecResponse, Error> {
        use base64::Engine;
        let path = format!("/v1/client/allocation/{}/exec", seg(id));
        let body = serde_json::to_vec(&json!({"Task": task.unwrap_or(""), "Command": command}))
            .map_err(|e| Error::Decode {
                path: path.clone(),
                reason: format!("request body: {e}"),
            })?;
        let (resp, _) = self
            .send(
                Method::POST,
                &path,
                &[],
                Some(body),
                EXEC_WAIT + BLOCKING_SLACK,
            )
            .await?;
        let v: Value = self.decode(&path, resp).await?;
        let stream = |k: &str| -> Result<Vec<u8>, Error> {
            base64::engine::general_purpose::STANDARD
                .decode(v[k].as_str().unwrap_or(""))
                .map_err(|e| Error::Decode {
                    path: path.clone(),
                    reason: format!("{k}: {e}"),
                })
        };
        Ok(ExecResponse {
            exit_code: v["ExitCode"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .ok_or_else(|| Error::Decode {
                    path: path.clone(),
                    reason: "ExitCode: missing or not a number".into(),
                })?,
            stdout: stream("Stdout")?,
            stderr: stream("Stderr")?,
        })
    }

    /// `GET /v1/client/allocation/:id/stats`: the allocation's and each
    /// task's usage (Nomad's `AllocResourceUsage`).
    pub async fn allocation_stats(&self, id: &str) -> Result<Value, Error> {
        Ok(self
            .query(
                &format!("/v1/client/allocation/{}/stats", seg(id)),
                &QueryOptions::default(),
            )
            .await?
            .0)
    }

    /// `GET /v1/evaluations`.
    pub async fn evaluations(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<Evaluation>, QueryMeta), Error> {
        self.query("/v1/evaluations", q).await
    }

    /// `GET /v1/evaluation/:id` (a unique prefix works too).
    pub async fn evaluation(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Evaluation, QueryMeta), Error> {
        self.query(&format!("/v1/evaluation/{}", seg(id)), q).await
    }

    /// `GET /v1/evaluation/:id/allocations`.
    pub async fn evaluation_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        self.query(&format!("/v1/evaluation/{}/allocations", seg(id)), q)
            .await
    }

    /// `GET /v1/deployments`.
    pub async fn deployments(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<Deployment>, QueryMeta), Error> {
        self.query("/v1/deployments", q).await
    }

    /// `GET /v1/deployment/:id` (a unique prefix works too).
    pub async fn deployment(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Deployment, QueryMeta), Error> {
        self.query(&format!("/v1/deployment/{}", seg(id)), q).await
    }

    /// `GET /v1/deployment/allocations/:id`: the allocations it placed.
    pub async fn deployment_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        self.query(&format!("/v1/deployment/allocations/{}", seg(id)), q)
            .await
    }

    /// `PUT /v1/deployment/promote/:id`: promotes the canaries of every
    /// group (`groups` empty) or of the named groups.
    pub async fn promote_deployment(
        &self,
        id: &str,
        groups: &[String],
    ) -> Result<DeploymentUpdateResponse, Error> {
        let body = json!({"DeploymentID": id, "All": groups.is_empty(), "Groups": groups});
        self.write(
            Method::PUT,
            &format!("/v1/deployment/promote/{}", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/deployment/fail/:id`: marks it failed (reverting the job
    /// when its groups auto-revert).
    pub async fn fail_deployment(&self, id: &str) -> Result<DeploymentUpdateResponse, Error> {
        let body = json!({"DeploymentID": id});
        self.write(
            Method::PUT,
            &format!("/v1/deployment/fail/{}", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/deployment/pause/:id`: pauses it, or resumes it with
    /// `pause = false`.
    pub async fn pause_deployment(
        &self,
        id: &str,
        pause: bool,
    ) -> Result<DeploymentUpdateResponse, Error> {
        let body = json!({"DeploymentID": id, "Pause": pause});
        self.write(
            Method::PUT,
            &format!("/v1/deployment/pause/{}", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/deployment/allocation-health/:id`: sets the health of
    /// allocations by hand (for `health_check = "manual"`).
    pub async fn deployment_allocation_health(
        &self,
        id: &str,
        healthy: &[String],
        unhealthy: &[String],
    ) -> Result<DeploymentUpdateResponse, Error> {
        let body = json!({
            "DeploymentID": id,
            "HealthyAllocationIDs": healthy,
            "UnhealthyAllocationIDs": unhealthy,
        });
        self.write(
            Method::PUT,
            &format!("/v1/deployment/allocation-health/{}", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    // ---- nodes ----

    /// `GET /v1/nodes`.
    pub async fn nodes(&self, q: &QueryOptions) -> Result<(Vec<NodeListStub>, QueryMeta), Error> {
        self.query("/v1/nodes", q).await
    }

    /// `GET /v1/node/:id` (a unique prefix works too).
    pub async fn node(&self, id: &str, q: &QueryOptions) -> Result<(Node, QueryMeta), Error> {
        self.query(&format!("/v1/node/{}", seg(id)), q).await
    }

    /// `GET /v1/node/:id/allocations`.
    pub async fn node_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<Allocation>, QueryMeta), Error> {
        self.query(&format!("/v1/node/{}/allocations", seg(id)), q)
            .await
    }

    /// `PUT /v1/node/:id/drain`: starts a drain, or ends it with `None`.
    pub async fn drain(
        &self,
        id: &str,
        spec: Option<&DrainSpec>,
        mark_eligible: bool,
    ) -> Result<NodeUpdateResponse, Error> {
        let body = json!({"DrainSpec": spec, "MarkEligible": mark_eligible});
        self.write(
            Method::PUT,
            &format!("/v1/node/{}/drain", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/node/:id/eligibility`.
    pub async fn eligibility(&self, id: &str, eligible: bool) -> Result<NodeUpdateResponse, Error> {
        let body = json!({"Eligibility": if eligible { "eligible" } else { "ineligible" }});
        self.write(
            Method::PUT,
            &format!("/v1/node/{}/eligibility", seg(id)),
            &[],
            Some(&body),
        )
        .await
    }

    // ---- status, agent, operator ----

    /// `GET /v1/status/leader`: the leader's RPC address (empty if none).
    pub async fn status_leader(&self) -> Result<String, Error> {
        Ok(self
            .query("/v1/status/leader", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/status/peers`: the Raft peers' RPC addresses.
    pub async fn status_peers(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .query("/v1/status/peers", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/self`, as the agent's JSON.
    pub async fn agent_self(&self) -> Result<Value, Error> {
        Ok(self
            .query("/v1/agent/self", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/members`.
    pub async fn agent_members(&self) -> Result<AgentMembers, Error> {
        Ok(self
            .query("/v1/agent/members", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/regions`.
    pub async fn regions(&self) -> Result<Vec<String>, Error> {
        Ok(self.query("/v1/regions", &QueryOptions::default()).await?.0)
    }

    /// `GET /v1/operator/scheduler/configuration`.
    pub async fn scheduler_configuration(&self) -> Result<SchedulerConfigurationResponse, Error> {
        Ok(self
            .query(
                "/v1/operator/scheduler/configuration",
                &QueryOptions::default(),
            )
            .await?
            .0)
    }

    /// `PUT /v1/operator/scheduler/configuration[?cas=]`: replaces the
    /// whole configuration; with `cas`, only if its modify index matches.
    pub async fn set_scheduler_configuration(
        &self,
        config: &SchedulerConfiguration,
        cas: Option<u64>,
    ) -> Result<SchedulerSetConfigurationResponse, Error> {
        let q: Vec<(&str, String)> = cas.map(|i| ("cas", i.to_string())).into_iter().collect();
        self.write(
            Method::PUT,
            "/v1/operator/scheduler/configuration",
            &q,
            Some(config),
        )
        .await
    }

    /// `GET /v1/operator/raft/configuration`.
    pub async fn raft_configuration(&self) -> Result<RaftConfiguration, Error> {
        Ok(self
            .query("/v1/operator/raft/configuration", &QueryOptions::default())
            .await?
            .0)
    }

    /// `DELETE /v1/operator/raft/peer?id=`.
    pub async fn remove_raft_peer(&self, raft_id: &str) -> Result<(), Error> {
        self.write_empty(
            Method::DELETE,
            "/v1/operator/raft/peer",
            &[("id", raft_id.to_string())],
        )
        .await
    }

    /// `PUT /v1/operator/raft/transfer-leadership[?id=]`.
    pub async fn transfer_leadership(&self, raft_id: Option<&str>) -> Result<(), Error> {
        let q: Vec<(&str, String)> = raft_id
            .map(|id| ("id", id.to_string()))
            .into_iter()
            .collect();
        self.write_empty(Method::PUT, "/v1/operator/raft/transfer-leadership", &q)
            .await
    }

    /// `GET /v1/operator/snapshot[?stale]`: the cluster's state as a
    /// snapshot file (header and FSM bytes), to write to disk as it is.
    pub async fn snapshot_save(&self, stale: bool) -> Result<Vec<u8>, Error> {
        let q: Vec<(&str, String)> = if stale {
            vec![("stale", String::new())]
        } else {
            Vec::new()
        };
        let (resp, _) = self
            .send(
                Method::GET,
                "/v1/operator/snapshot",
                &q,
                None,
                REQUEST_TIMEOUT,
            )
            .await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        Ok(bytes.to_vec())
    }

    /// `PUT /v1/operator/snapshot`: replaces the cluster's state with a
    /// snapshot file's; a damaged file is refused and changes nothing.
    pub async fn snapshot_restore(&self, file: Vec<u8>) -> Result<(), Error> {
        self.send(
            Method::PUT,
            "/v1/operator/snapshot",
            &[],
            Some(file),
            REQUEST_TIMEOUT,
        )
        .await?;
        Ok(())
    }

    /// `GET /v1/metrics` as JSON.
    pub async fn metrics(&self) -> Result<Value, Error> {
        Ok(self.query("/v1/metrics", &QueryOptions::default()).await?.0)
    }

    // ---- variables ----

    /// `GET /v1/vars`.
    pub async fn variables(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<VariableMetadata>, QueryMeta), Error> {
        self.query("/v1/vars", q).await
    }

    /// `GET /v1/var/:path`.
    pub async fn variable(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(Variable, QueryMeta), Error> {
        self.query(&format!("/v1/var/{}", var_path(path)), q).await
    }

    /// `PUT /v1/var/:path[?cas=]`.
    pub async fn put_variable(
        &self,
        path: &str,
        items: &BTreeMap<String, String>,
        cas: Option<u64>,
    ) -> Result<Variable, Error> {
        let q: Vec<(&str, String)> = cas.map(|c| ("cas", c.to_string())).into_iter().collect();
        self.write(
            Method::PUT,
            &format!("/v1/var/{}", var_path(path)),
            &q,
            Some(&json!({"Items": items})),
        )
        .await
    }

    /// `DELETE /v1/var/:path[?cas=]`.
    pub async fn delete_variable(&self, path: &str, cas: Option<u64>) -> Result<(), Error> {
        let q: Vec<(&str, String)> = cas.map(|c| ("cas", c.to_string())).into_iter().collect();
        self.write_empty(Method::DELETE, &format!("/v1/var/{}", var_path(path)), &q)
            .await
    }
}

/// Variable paths keep their slashes: the agent routes the whole rest.
fn var_path(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(seg)
        .collect::<Vec<_>>()
        .join("/")
}

fn meta_of(resp: &reqwest::Response) -> QueryMeta {
    let h = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok());
    QueryMeta {
        last_index: h("X-Nomad-Index").and_then(|v| v.parse().ok()).unwrap_or(0),
        known_leader: h("X-Nomad-KnownLeader") == Some("true"),
        last_contact: Duration::from_millis(
            h("X-Nomad-LastContact")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_resolve_or_explain() {
        assert_eq!(
            Client::new("127.0.0.1:4646").unwrap().address(),
            "http://127.0.0.1:4646"
        );
        assert_eq!(Client::new("http://h:1/").unwrap().address(), "http://h:1");
        for bad in ["", "ftp://h", "https://h:1", "http://"] {
            let e = Client::new(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidAddress { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn ids_with_slashes_stay_one_segment() {
        assert_eq!(seg("p/dispatch-1-ab"), "p%2Fdispatch-1-ab");
        assert_eq!(var_path("/nomad/jobs/web"), "nomad/jobs/web");
    }

    #[test]
    fn blocking_options_become_query_pairs() {
        let q = QueryOptions {
            index: 5,
            wait: Some(Duration::from_secs(2)),
            stale: true,
            prefix: Some("w".into()),
            namespace: Some("*".into()),
        };
        assert_eq!(
            q.pairs(),
            vec![
                ("index", "5".into()),
                ("wait", "2000ms".into()),
                ("stale", String::new()),
                ("prefix", "w".into()),
                ("namespace", "*".into())
            ]
        );
    }
}
