# HCL2 features resolved when the job file is parsed: typed input variables
# with defaults and validation, locals, functions and a dynamic task block.
# Run it:   sched run jobspecs/variables-locals.nomad.hcl
# Override: sched run -var worker_count=3 -var environment=staging jobspecs/variables-locals.nomad.hcl

variable "app_name" {
  type        = string
  description = "Name shown in the greeting and in the job's meta."
  default     = "greeter"
}

variable "environment" {
  type        = string
  description = "One of dev, staging or prod; picks the memory size."
  default     = "dev"

  validation {
    condition     = var.environment == "dev" || var.environment == "staging" || var.environment == "prod"
    error_message = "The environment must be one of dev, staging or prod."
  }
}

variable "worker_count" {
  type        = number
  description = "How many copies of the group to run."
  default     = 2

  validation {
    condition     = var.worker_count >= 1 && var.worker_count <= 5
    error_message = "The worker_count must be between 1 and 5."
  }
}

variable "greetings" {
  type = map(object({
    message = string
    cpu     = number
  }))
  description = "One task per entry: the task name and what it says."
  default = {
    english = { message = "hello", cpu = 50 }
    french  = { message = "bonjour", cpu = 60 }
  }
}

variable "memory_by_env" {
  type    = map(number)
  default = { dev = 32, staging = 64, prod = 128 }
}

locals {
  banner = upper(var.app_name)
  label  = format("%s-%s", var.app_name, var.environment)
  tags   = join(",", ["example", "hcl2", var.environment])
  memory = lookup(var.memory_by_env, var.environment, 64)
}

job "variables-locals" {
  datacenters = ["*"]
  type        = "batch"

  meta {
    label = local.label
    tags  = local.tags
  }

  group "greeters" {
    count = var.worker_count

    # One task per entry of var.greetings, named after the entry's key.
    dynamic "task" {
      for_each = var.greetings
      labels   = [task.key]

      content {
        driver = "raw_exec"

        config {
          command = "/bin/sh"
          # local.* and task.* are filled in by the parser; NOMAD_ALLOC_INDEX
          # stays as written and is filled in on the client.
          args = ["-c", "echo \"${local.banner} (${local.label}) says ${task.value.message} from copy ${NOMAD_ALLOC_INDEX}\""]
        }

        resources {
          cpu    = task.value.cpu
          memory = local.memory
        }
      }
    }
  }
}
