"""Skeleton backbones beyond the paper (issue 16): ST-GCN++ and CTR-GCN next to ST-GCN, the backbone
contract of mmff.models.streams, the registry behind model.skeleton.backbone, and the 2s-AGCN
graph partition they use."""
import typing

import numpy as np
import pytest
import torch

from mmff.config import GRAPH_BACKBONES, Config, SkeletonStreamConfig
from mmff.models import (CTRGCN, MMFF, SKELETON_BACKBONES, STGCN, STGCNpp, SkeletonOnly,
                         build_skeleton_stream, create_model, num_joints)
from mmff.models.fusion import skeleton_vector
from mmff.models.graph import Graph

GRAPH_CLASSES = {"stgcn": STGCN, "stgcnpp": STGCNpp, "ctrgcn": CTRGCN}


def tiny_cfg(backbone: str, kind: str = "mmff", fusion: str = "cross_attention", **skeleton) -> Config:
    cfg = Config()
    cfg.model.kind = kind
    cfg.model.num_classes = 5
    s = cfg.model.skeleton
    s.backbone, s.width, s.rnn_hidden, s.rnn_layers = backbone, 0.125, 8, 1
    for k, v in skeleton.items():
        setattr(s, k, v)
    cfg.model.rgb.width, cfg.model.rgb.middle_blocks = 0.0625, 0
    f = cfg.model.fusion
    f.type, f.reduced_channels, f.conv_channels, f.hidden, f.sum_dim = fusion, 8, 16, 8, 8
    cfg.model.rgb.lstm_feature_dim = 8
    return cfg


def batch_for(cfg: Config, n: int = 2, t: int = 12, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    s = cfg.model.skeleton
    v, m = num_joints(s.layout), s.num_person
    skel = (torch.randn(n, s.in_channels, t, v, m, generator=g) if s.backbone in GRAPH_BACKBONES
            else torch.randn(n, 4, m * v * s.in_channels, generator=g))
    return {"skeleton": skel, "image": torch.randn(n, 1, 3, 32, 32, generator=g),
            "joints2d": torch.rand(n, 1, m, v, 2, generator=g),
            "displacement": torch.rand(n, 1, m, v, generator=g),
            "label": torch.arange(n) % cfg.model.num_classes}


def test_registry_is_the_config_choice():
    choices = set(typing.get_args(typing.get_type_hints(SkeletonStreamConfig)["backbone"]))
    assert set(SKELETON_BACKBONES) == choices
    assert set(GRAPH_BACKBONES) == set(GRAPH_CLASSES) and set(GRAPH_BACKBONES) < choices
    for name in choices:
        net = build_skeleton_stream(tiny_cfg(name))
        assert net.kind == ("map" if name in GRAPH_BACKBONES else "vector"), name
        if name in GRAPH_CLASSES:
            assert type(net) is GRAPH_CLASSES[name]


@pytest.mark.parametrize("backbone", GRAPH_BACKBONES)
@pytest.mark.parametrize("layout, in_channels, num_person", [("ntu", 3, 2), ("sysu", 2, 1)])
def test_backbone_contract(backbone, layout, in_channels, num_person):
    """Input (N, C, T, V, M) -> F_gcn (N, C_s, ceil(T/4), V), bodies averaged; the attributes and
    pool() of the contract; the config's width / layout / in_channels / num_person honoured."""
    torch.manual_seed(0)
    cfg = tiny_cfg(backbone, layout=layout, in_channels=in_channels, num_person=num_person,
                   width=0.25)
    net = build_skeleton_stream(cfg).eval()
    v = num_joints(layout)
    assert (net.kind, net.num_joints, net.num_person, net.in_channels) == ("map", v, num_person,
                                                                           in_channels)
    assert net.out_channels == 64   # 256 x width
    x = torch.randn(3, in_channels, 13, v, num_person)
    with torch.no_grad():
        feat = net(x)
        assert feat.shape == (3, 64, 4, v)
        pooled = net.pool(feat)
        assert pooled.shape == (3, 64)
        torch.testing.assert_close(pooled, skeleton_vector(feat))
    if num_person == 2:
        # the bodies are folded into the batch and averaged after the backbone: their order does
        # not matter (default BN statistics), a different second body does
        a, b = x[..., :1], torch.randn_like(x[..., :1])
        with torch.no_grad():
            ab, ba, aa = (net(torch.cat(p, -1)) for p in ((a, b), (b, a), (a, a)))
        torch.testing.assert_close(ab, ba, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(ab, aa, atol=1e-4)


@pytest.mark.parametrize("backbone", ["stgcnpp", "ctrgcn"])
@pytest.mark.parametrize("kind, fusion", [("skeleton_only", "cross_attention"),
                                          ("mmff", "cross_attention"), ("mmff", "lstm_late"),
                                          ("mmff", "sum"), ("mmff", "decision")])
def test_create_model_with_every_fusion(backbone, kind, fusion):
    torch.manual_seed(0)
    cfg = tiny_cfg(backbone, kind, fusion)
    model = create_model(cfg).eval()
    assert isinstance(model, SkeletonOnly if kind == "skeleton_only" else MMFF)
    assert type(model.skeleton_stream) is GRAPH_CLASSES[backbone]
    with torch.no_grad():
        out = model(batch_for(cfg))
    assert out.shape == (2, 5) and torch.isfinite(out).all()


@pytest.mark.parametrize("backbone", ["stgcnpp", "ctrgcn"])
def test_mmff_cross_attention_trains_the_adaptive_topology(backbone):
    """Forward + backward through MMFF with the cross-attention fusion: the loss reaches every
    block's learnable adjacency (ST-GCN++ 'init', CTR-GCN shared topology) and CTR-GCN's
    refinement scale alpha; one SGD step moves them."""
    torch.manual_seed(0)
    cfg = tiny_cfg(backbone)
    model = create_model(cfg).train()
    batch = batch_for(cfg, n=4)
    loss = torch.nn.functional.cross_entropy(model(batch), batch["label"])
    loss.backward()
    blocks = model.skeleton_stream.blocks
    assert len(blocks) == 10
    adj = [b.gcn.A for b in blocks]
    assert all(a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
               for a in adj)
    if backbone == "ctrgcn":
        alphas = [b.gcn.alpha for b in blocks]
        assert all(a.grad is not None and a.grad.abs().item() > 0 for a in alphas)
    before = [a.detach().clone() for a in adj]
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert all(not torch.equal(a, b) for a, b in zip(adj, before))


def test_stgcnpp_structure():
    net = STGCNpp("ntu_kinect")
    assert net.out_channels == 256 and net.data_bn.num_features == 3 * 25   # ST-GCN's "VC"
    assert net.graph.strategy == "agcn"
    assert [b.residual is None for b in net.blocks] == [True] + [False] * 9
    tcn = net.blocks[4].tcn
    # six branches: dilations 1-4 (3x1), max-pool, 1x1; 128 channels = 23 + 5 x 21, strided
    dil = [br[3].dilation[0] for br in tcn.branches[:4]]
    assert dil == [1, 2, 3, 4] and all(br[3].kernel_size == (3, 1) for br in tcn.branches[:4])
    assert isinstance(tcn.branches[4][3], torch.nn.MaxPool2d)
    assert [br[0].out_channels for br in tcn.branches] == [23, 21, 21, 21, 21, 21]
    assert tcn.branches[5][0].stride == (2, 1) and tcn.branches[0][3].stride == (2, 1)
    # every block learns its own adjacency, initialised from the graph
    g = torch.tensor(Graph("ntu_kinect", strategy="agcn").A)
    assert all(torch.equal(b.gcn.A.detach(), g) for b in net.blocks)
    assert net.blocks[0].gcn.A is not net.blocks[1].gcn.A


def test_ctrgcn_structure_and_refinement():
    torch.manual_seed(0)
    net = CTRGCN("ntu_kinect")
    assert net.out_channels == 256 and net.data_bn.num_features == 2 * 3 * 25   # per body "MVC"
    unit = net.blocks[5].gcn
    assert len(unit.convs) == 3 and unit.alpha.item() == 0.0
    c = unit.convs[0]
    assert (c.phi.out_channels, c.xi.out_channels) == (128 // 8, 128)
    assert net.blocks[0].gcn.convs[0].phi.out_channels == 8          # raw input: 8 channels
    tcn = net.blocks[7].tcn   # kernel 5, dilations 1 and 2, every branch ends in BN
    assert [br[3].dilation[0] for br in tcn.branches[:2]] == [1, 2]
    assert all(isinstance(br[-1], torch.nn.BatchNorm2d) for br in tcn.branches)
    # the refinement is per sample and per channel: xi(M(X)) differs between samples and channels
    x = torch.randn(2, 64, 6, 25)
    corr, feat = net.blocks[1].gcn.convs[0](x)
    assert corr.shape == (2, 64, 25, 25) and feat.shape == (2, 64, 6, 25)
    assert not torch.allclose(corr[0], corr[1]) and not torch.allclose(corr[0, 0], corr[0, 1])
    # alpha = 0: the unit is a graph convolution with the shared topology; alpha != 0 refines it
    unit = net.blocks[1].gcn.eval()
    with torch.no_grad():
        y0 = unit(x)
        unit.alpha.fill_(0.5)
        assert not torch.allclose(unit(x), y0)


def test_agcn_partition_matches_pyskl():
    """Graph(strategy="agcn") = PYSKL's Graph(layout='nturgb+d', mode='spatial'): identity,
    normalize_digraph(edge2mat(inward)), normalize_digraph(edge2mat(outward)); 1-based inward
    pairs (child, parent) transcribed from PYSKL's nturgb+d layout."""
    inward = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
              (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
              (18, 17), (19, 18), (20, 19), (22, 8), (23, 8), (24, 12), (25, 12)]

    def edge2mat(links):
        a = np.zeros((25, 25))
        for i, j in links:
            a[j - 1, i - 1] = 1
        return a

    def normalize(a):
        deg = a.sum(0)
        return a @ np.diag([1 / d if d > 0 else 0 for d in deg])

    ref = np.stack([np.eye(25), normalize(edge2mat(inward)),
                    normalize(edge2mat([(j, i) for i, j in inward]))])
    np.testing.assert_allclose(Graph("ntu_kinect", strategy="agcn").A, ref, atol=1e-7)
    # the released ST-GCN hand chain gives another inward set on the same rule (nearer the centre)
    chained = Graph("ntu", strategy="agcn").A
    assert chained[1, 22, 21] == 1 and chained[1, 7, 22] == 1   # 22 -> 23 -> 8 (1-based)
    with pytest.raises(ValueError, match="graph strategy"):
        Graph("ntu", strategy="distance")


def test_too_narrow_for_the_branches_is_a_clear_error():
    with pytest.raises(ValueError, match="branches"):
        STGCNpp("ntu", width=4 / 64)   # 4 channels for ST-GCN++'s six temporal branches
