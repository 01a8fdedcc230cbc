"""PyTorch reference for bench/train-steps.ts: the same MLP GAN and DCGAN, batch, losses and optimiser, timed the
same way (one D update then one G update per step, after warm-up). Prints one JSON line with steps/s.

Threads come from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (set by the caller) and torch.set_num_threads(--threads).
The G update freezes D's parameters (requires_grad off), so PyTorch skips D's weight gradients, as tfjs does when it
differentiates with respect to G's variables only: both sides do the same arithmetic (bench/train-steps-report.ts).
"""
import argparse
import json
import time

import torch
from torch import nn


def mlp_pair():
    g = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.BatchNorm1d(512, momentum=0.1), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.BatchNorm1d(1024, momentum=0.1), nn.LeakyReLU(0.2),
        nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    d = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    return g, d


def dcgan_pair():
    # train/models/dcgan.ts at 28x28: BN on the dense output before the reshape. NCHW; padding 1 with k4 s2 is tfjs's
    # 'same' here (7 -> 14 -> 28 and 28 -> 14 -> 7).
    g = nn.Sequential(
        nn.Linear(100, 7 * 7 * 128), nn.BatchNorm1d(7 * 7 * 128, momentum=0.1), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64, momentum=0.1), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
    return g, d


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', choices=['mlp', 'dcgan'], required=True)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g, d = mlp_pair() if args.model == 'mlp' else dcgan_pair()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    b = args.batch_size
    real = torch.rand(b, 1, 28, 28) * 2 - 1
    ones = torch.ones(b, 1)
    zeros = torch.zeros(b, 1)

    def step():
        # D update on real and detached fakes.
        with torch.no_grad():
            fakes = g(torch.randn(b, 100))
        opt_d.zero_grad(set_to_none=True)
        loss_d = (bce(d(real), ones) + bce(d(fakes), zeros)) / 2
        loss_d.backward()
        opt_d.step()
        # G update through a frozen D (non-saturating loss).
        for p in d.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(d(g(torch.randn(b, 100))), ones)
        loss_g.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)

    for _ in range(3):
        step()
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds or steps < 3:
        step()
        steps += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({'model': args.model, 'threads': args.threads, 'steps_per_second': steps / elapsed, 'steps': steps,
                      'torch_version': torch.__version__}))


if __name__ == '__main__':
    main()
