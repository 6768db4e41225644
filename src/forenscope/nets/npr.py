"""The NPR classifier: ResNet-50 bottlenecks, stages 1-2 only, 3x3 stride-2 stem.

Faithful at ``width=64, blocks=(3, 4)`` (1,437,761 parameters, as the published
``resnet50(num_classes=1)`` cut after layer2); ``width`` and ``blocks`` make compact variants
(width 32, blocks (2, 2): 203,937). The input is the ImageNet-normalised image; NPR and the
fixed 2/3 scale are applied inside ``forward``. Returns one logit per image (no sigmoid).
"""

from __future__ import annotations

import torch
from torch import nn

from forenscope.signals.npr import npr_residual

NPR_SCALE = 2.0 / 3.0  # a hard constant of the published model; checkpoints depend on it


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1):
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)  # v1.5: stride here
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class NPRNet(nn.Module):
    def __init__(self, width: int = 64, blocks: tuple[int, int] = (3, 4)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(width, width, blocks[0], stride=1)
        self.layer2 = self._stage(width * 4, width * 2, blocks[1], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(width * 8, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _stage(in_ch: int, planes: int, n: int, stride: int) -> nn.Sequential:
        layers = [Bottleneck(in_ch, planes, stride)]
        layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(n - 1)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = npr_residual(x) * NPR_SCALE
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer2(self.layer1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(torch.flatten(self.avgpool(self.features(x)), 1))
