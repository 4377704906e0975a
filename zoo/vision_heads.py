"""Dense-prediction models: a detector with two heads (SSD-style boxes and class scores over anchors), a U-Net
segmenter (upsampling, skip concatenation) and a face model with PReLU and three heads in a dict."""
import torch
from torch import nn

INPUTS = {"image": ((1, 3, 128, 128), "float32")}


def block(cin, cout, stride=1, act=None):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), act or nn.ReLU())


class Detector(nn.Module):
    """Backbone to two feature maps (16x16 and 8x8), 3 anchors each: boxes (N, A, 4) and scores (N, A, classes)."""

    def __init__(self, classes=4, anchors=3):
        super().__init__()
        self.classes = classes
        self.backbone = nn.Sequential(block(3, 16, 2), block(16, 32, 2), block(32, 64, 2))  # 16x16
        self.down = block(64, 96, 2)                                                        # 8x8
        self.box_heads = nn.ModuleList([nn.Conv2d(c, anchors * 4, 3, 1, 1) for c in (64, 96)])
        self.cls_heads = nn.ModuleList([nn.Conv2d(c, anchors * classes, 3, 1, 1) for c in (64, 96)])

    def forward(self, image):
        f1 = self.backbone(image)
        maps = [f1, self.down(f1)]
        boxes = torch.cat([h(f).permute(0, 2, 3, 1).reshape(f.shape[0], -1, 4)
                           for h, f in zip(self.box_heads, maps)], 1)
        scores = torch.cat([h(f).permute(0, 2, 3, 1).reshape(f.shape[0], -1, self.classes)
                            for h, f in zip(self.cls_heads, maps)], 1)
        return boxes, scores


class UNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = block(3, 16), block(16, 32, 2), block(32, 64, 2)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2, self.dec1 = block(64 + 32, 32), block(32 + 16, 16)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, image):
        e1 = self.enc1(image)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up2(d2), e1], 1))
        return self.head(d1)


class FaceNet(nn.Module):
    """PReLU everywhere (per-channel slopes, as in MTCNN/RetinaFace-style nets), three heads in a dict."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(block(3, 16, 2, nn.PReLU(16)), block(16, 32, 2, nn.PReLU(32)),
                                      block(32, 64, 2, nn.PReLU(64)), block(64, 64, 2, nn.PReLU(64)))
        self.embed = nn.Sequential(nn.Linear(64, 64), nn.PReLU(64))
        self.face, self.box, self.landmarks = nn.Linear(64, 2), nn.Linear(64, 4), nn.Linear(64, 10)

    def forward(self, image):
        h = self.embed(self.features(image).mean((2, 3)))
        return {"face": self.face(h), "box": self.box(h), "landmarks": self.landmarks(h)}


def build():
    return Detector()


def build_unet():
    return UNet()


def build_face():
    return FaceNet()
