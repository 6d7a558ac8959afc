"""Training on the local backend: CreateProjectVersion and the job behind it.

    service.py     the RPC, the background job, restart safety (TrainingService)
    inputs.py      which manifests a version trains and tests on; reading them line by line
    validation.py  the validation stage (spec 02 §2): file checks, line verdicts, use case,
                   auto-split, content checks, the three validation output files
    tally.py       per-manifest counts and label sets from the line verdicts; the use case
    content_checks.py  the §2.4 content errors and the manifest_summary.json document
    outputs.py     the output key layout under OutputConfig (§4.3) and the blob writes
    trainer.py     THE SEAM: `train(target, validated_inputs)`, where a model gets made
"""

from labelgate.backends.local.training.service import TrainingService

__all__ = ["TrainingService"]
