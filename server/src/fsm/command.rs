//! The commands proposed through Raft.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use sched_core::model::{
    AllocId, Allocation, ClientStatus, Deployment, DeploymentId, DeploymentStatusUpdate,
    DrainStrategy, EvalId, Evaluation, Job, Node, NodeId, NodeSchedulingEligibility, NodeStatus,
    Submission, TaskState, Variable,
};

/// One change to the replicated state. Everything that varies between
/// servers (time, IDs, the evaluations a change triggers) is decided by the
/// proposer and carried here, so applying a command is deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Registers a job or a new version of it, with the evaluation it triggers
    /// (none for periodic and parameterized parents).
    JobRegister {
        /// The canonicalized job; the FSM sets its indexes and version.
        job: Box<Job>,
        /// The evaluation to create.
        eval: Option<Evaluation>,
        /// The source the user submitted, kept beside the version.
        submission: Option<Submission>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Stops a job (or removes it with `purge`), with the evaluation that
    /// stops its allocations.
    JobDeregister {
        /// Namespace of the job.
        namespace: String,
        /// The job.
        job_id: String,
        /// Remove the job and its history instead of marking it stopped.
        purge: bool,
        /// The evaluation to create.
        eval: Option<Evaluation>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Marks a job version stable (a deployment finished healthy) or not.
    JobStability {
        /// Namespace of the job.
        namespace: String,
        /// The job.
        job_id: String,
        /// The version.
        version: u64,
        /// Whether it is stable.
        stable: bool,
    },
    /// Creates or updates evaluations (broker acks, blocked evals, follow-ups).
    EvalUpsert {
        /// The evaluations.
        evals: Vec<Evaluation>,
    },
    /// Garbage-collects terminal evaluations and allocations.
    EvalDelete {
        /// Evaluations to remove.
        evals: Vec<EvalId>,
        /// Allocations to remove.
        allocs: Vec<AllocId>,
    },
    /// Commits what the plan applier accepted of a plan.
    ApplyPlanResult {
        /// The job the placements run (shared by them in the state).
        job: Option<Box<Job>>,
        /// New or updated allocations.
        allocs: Vec<Allocation>,
        /// Allocations to stop.
        stopped: Vec<AllocStop>,
        /// Allocations preempted by this plan.
        preempted: Vec<AllocStop>,
        /// A deployment created or updated by the plan.
        deployment: Option<Deployment>,
        /// Status changes to deployments.
        deployment_updates: Vec<DeploymentStatusUpdate>,
        /// The evaluation's new state and any it creates.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the commit.
        now: i64,
    },
    /// Status reported by a client for its allocations, batched.
    AllocClientUpdate {
        /// The updates.
        updates: Vec<AllocClientUpdate>,
        /// Evaluations triggered (a failed alloc to reschedule).
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the commit.
        now: i64,
    },
    /// An operator stops allocations (`alloc stop`) and the evaluation to
    /// replace them.
    AllocStop {
        /// The allocations.
        stops: Vec<AllocStop>,
        /// Evaluations to create.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Registers a node or refreshes its fingerprint.
    NodeRegister {
        /// The node.
        node: Box<Node>,
        /// Evaluations for system jobs and blocked work the node may take.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Removes nodes.
    NodeDeregister {
        /// The nodes.
        node_ids: Vec<NodeId>,
        /// Evaluations for the jobs that lose allocations.
        evals: Vec<Evaluation>,
    },
    /// A node's status changed (heartbeat missed: down; back: ready).
    NodeStatusUpdate {
        /// The node.
        node_id: NodeId,
        /// The new status.
        status: NodeStatus,
        /// Evaluations for the jobs on it.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the change.
        now: i64,
    },
    /// Starts or ends a drain.
    NodeDrain {
        /// The node.
        node_id: NodeId,
        /// The drain, or `None` to end it.
        drain: Option<DrainStrategy>,
        /// When ending a drain, make the node eligible again.
        mark_eligible: bool,
        /// Evaluations for the jobs on it.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Changes whether new work may be placed on a node.
    NodeEligibility {
        /// The node.
        node_id: NodeId,
        /// The new eligibility.
        eligibility: NodeSchedulingEligibility,
        /// Evaluations for blocked work.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Writes a variable; with `cas`, only if its modify index equals it
    /// (0: only if absent).
    VariableUpsert {
        /// The variable (indexes and times are set by the FSM).
        variable: Variable,
        /// Compare-and-set index.
        cas: Option<u64>,
        /// Unix nanoseconds of the request.
        now: i64,
    },
    /// Deletes a variable, with the same compare-and-set rule.
    VariableDelete {
        /// Namespace.
        namespace: String,
        /// Path.
        path: String,
        /// Compare-and-set index.
        cas: Option<u64>,
    },
    /// Records a server's addresses so every server can reach every other
    /// (Raft membership itself changes through conf changes).
    ServerUpsert {
        /// The server.
        server: ServerEntry,
    },
    /// Forgets a removed server's addresses.
    ServerRemove {
        /// Its Raft ID.
        raft_id: u64,
    },
    /// Changes an active deployment's status (the deployment watcher failing
    /// or completing it, an operator failing it), together with the job
    /// version an auto-revert registers and the evaluation that follows, so
    /// a failure and its rollback commit as one. A successful deployment
    /// marks its job version stable. Refused for an unknown or terminal
    /// deployment.
    DeploymentStatusUpdate {
        /// The new status and its description.
        update: DeploymentStatusUpdate,
        /// A job to register as a new version (the auto-revert target).
        job: Option<Box<Job>>,
        /// The evaluation to create.
        eval: Option<Evaluation>,
        /// Unix nanoseconds of the change.
        now: i64,
    },
    /// Promotes a running deployment's canaries: every canary group, or the
    /// named ones. Refused unless each promoted group's canaries are all
    /// placed and healthy.
    DeploymentPromote {
        /// The deployment.
        deployment_id: DeploymentId,
        /// Groups to promote; `None` promotes every group with canaries.
        groups: Option<Vec<String>>,
        /// The evaluation that rolls out the rest.
        eval: Option<Evaluation>,
        /// Unix nanoseconds of the change.
        now: i64,
    },
    /// Sets the deployment health of allocations by hand (Nomad's
    /// allocation-health endpoint), optionally failing the deployment (and
    /// reverting its job) in the same step.
    DeploymentAllocHealth {
        /// The deployment the allocations belong to.
        deployment_id: DeploymentId,
        /// Allocations to mark healthy.
        healthy: Vec<AllocId>,
        /// Allocations to mark unhealthy.
        unhealthy: Vec<AllocId>,
        /// A status change to make with it (failing on unhealthy ones).
        update: Option<DeploymentStatusUpdate>,
        /// A job to register as a new version (the auto-revert target).
        job: Option<Box<Job>>,
        /// The evaluation to create.
        eval: Option<Evaluation>,
        /// Unix nanoseconds of the change.
        now: i64,
    },
    /// Pauses a deployment or resumes a paused one.
    DeploymentPause {
        /// The deployment.
        deployment_id: DeploymentId,
        /// Pause (`true`) or resume (`false`).
        pause: bool,
        /// The evaluation a resume creates.
        eval: Option<Evaluation>,
        /// Unix nanoseconds of the change.
        now: i64,
    },
    /// Moves groups' progress deadlines (the watcher saw new healthy
    /// allocations, or starts the clock) with the evaluation that lets the
    /// scheduler continue the rollout.
    DeploymentProgress {
        /// The deployment.
        deployment_id: DeploymentId,
        /// New RFC 3339 `RequireProgressBy` per group.
        require_progress_by: BTreeMap<String, String>,
        /// The evaluation to create.
        eval: Option<Evaluation>,
    },
    /// Changes nothing: a new leader commits one to learn its commit index.
    Noop,
    /// Replaces the whole state with an operator's snapshot (`operator
    /// snapshot restore`). Going through the log, rather than installing a
    /// Raft snapshot on one server, gives every server the same state at
    /// the same index. The server address book is kept: it describes the
    /// live cluster, not the data.
    Restore {
        /// The FSM snapshot bytes (JSON text, see
        /// [`StateMachine::snapshot`](crate::raft::StateMachine::snapshot)).
        snapshot: String,
    },
}

/// A client's report on one allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AllocClientUpdate {
    /// The allocation.
    pub alloc_id: AllocId,
    /// What the client sees.
    pub client_status: ClientStatus,
    /// Why.
    pub client_description: String,
    /// Every task's state.
    pub task_states: BTreeMap<String, TaskState>,
    /// Deployment health, when the client judged it.
    pub healthy: Option<bool>,
}

/// A request to stop one allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AllocStop {
    /// The allocation.
    pub alloc_id: AllocId,
    /// Why, shown as its desired description.
    pub description: String,
    /// A client status to set at once (`lost` for allocs on a down node).
    pub client_status: Option<ClientStatus>,
}

/// A server in the address book.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerEntry {
    /// Raft ID.
    pub raft_id: u64,
    /// Name shown by `server members`.
    pub name: String,
    /// gRPC address peers and clients dial.
    pub rpc_addr: String,
    /// HTTP address.
    pub http_addr: String,
}

/// What applying a command answers to its proposer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CommandResponse {
    /// Raft index the command was applied at.
    pub index: u64,
    /// The refusal, when the command was valid to log but not to apply
    /// (a compare-and-set conflict, an unknown node): the state is unchanged.
    pub error: Option<String>,
    /// The job version a `JobRegister` created.
    pub job_version: Option<u64>,
}

impl Command {
    /// Encodes the command for a Raft entry.
    ///
    /// # Panics
    /// Never for the model's types (JSON encoding of them cannot fail).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("commands always encode")
    }

    /// Decodes a Raft entry.
    pub fn decode(bytes: &[u8]) -> Result<Command, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
