"""``train.sync_batchnorm``: batch-norm statistics over the global batch of all DDP processes.

With DDP each process normalises its own slice of the batch; with synchronised batch norm the
mean and variance of every batch-norm layer (ST-GCN's ``data_bn`` and unit BNs, Xception's BNs)
are those of the whole global batch, as if one process ran it. On GPUs this is torch's
:class:`torch.nn.SyncBatchNorm` (NCCL kernels). torch implements no CPU path (it refuses CPU
inputs, and DDP refuses it on CPU), so on CPU / gloo :class:`CPUSyncBatchNorm` computes the same statistics with two
differentiable all-reduces (sum -> mean, then the sum of squared deviations -> biased variance,
two passes as the single-process kernel does); the backward of an all-reduce is the all-reduce of
the gradients, so every process gets the gradient of the global-batch normalisation.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from lightning.pytorch.plugins.layer_sync import LayerSync
from torch import nn

__all__ = ["CPUSyncBatchNorm", "CPUSyncBatchNormPlugin", "convert", "revert", "uses_cpu"]


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch of all (gloo) DDP
    processes; a plain batch norm in eval mode or in a single process. Not a subclass of
    :class:`torch.nn.SyncBatchNorm`, which DDP refuses on CPU. Any input rank (1d/2d/3d)."""

    def __init__(self, *args, original: type = nn.BatchNorm2d, **kwargs):
        super().__init__(*args, **kwargs)
        self.original = original  # the class revert() gives back

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an (N, C, ...) input, got shape {tuple(input.shape)}")

    def _group(self):
        if not self.training or not (dist.is_available() and dist.is_initialized()):
            return None
        return dist.group.WORLD if dist.get_world_size() > 1 else None

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        group = self._group()
        if group is None:  # eval mode, or a single process: the ordinary kernel
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        dims = [0] + list(range(2, input.dim()))
        shape = [1, -1] + [1] * (input.dim() - 2)
        local = torch.cat([input.sum(dims), input.new_full((1,), input.numel() // input.shape[1])])
        total = all_reduce(local, group=group)
        n = total[-1]
        mean = total[:-1] / n
        centred = input - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims), group=group) / n  # biased, as in training BN
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():  # running variance is the unbiased one (torch's convention)
                n_ = n.detach()
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * n_ / (n_ - 1).clamp(min=1),
                                                       alpha=factor)
        return out


def _swap(module: nn.Module, new: nn.Module) -> nn.Module:
    if module.affine:
        new.weight, new.bias = module.weight, module.bias
    new.running_mean, new.running_var = module.running_mean, module.running_var
    new.num_batches_tracked = module.num_batches_tracked
    new.training = module.training
    return new


def convert(module: nn.Module) -> nn.Module:
    """Every batch-norm layer of ``module`` -> :class:`CPUSyncBatchNorm` (same tensors)."""
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        out = _swap(module, CPUSyncBatchNorm(module.num_features, module.eps, module.momentum,
                                             module.affine, module.track_running_stats,
                                             original=type(module)))
    for name, child in module.named_children():
        out.add_module(name, convert(child))
    return out


def revert(module: nn.Module) -> nn.Module:
    """Undo :func:`convert` (the original batch-norm classes, same tensors)."""
    out = module
    if isinstance(module, CPUSyncBatchNorm):
        out = _swap(module, module.original(module.num_features, module.eps, module.momentum,
                                            module.affine, module.track_running_stats))
    for name, child in module.named_children():
        out.add_module(name, revert(child))
    return out


class CPUSyncBatchNormPlugin(LayerSync):
    """Lightning layer-sync plugin (``Trainer(plugins=[...])``) for CPU / gloo DDP; on GPUs
    ``Trainer(sync_batchnorm=True)`` uses torch's :class:`torch.nn.SyncBatchNorm`."""

    def apply(self, model: nn.Module) -> nn.Module:
        return convert(model)

    def revert(self, model: nn.Module) -> nn.Module:
        return revert(model)


def uses_cpu(accelerator: str) -> bool:
    """Whether a Trainer with this ``accelerator`` setting trains on the CPU."""
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
