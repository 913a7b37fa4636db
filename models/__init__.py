"""Plain PyTorch models of the stack (no ROS imports).

Encoders, the perceptual-cognitive memory bank (PCMB) and the memory-conditioned
diffusion action expert, with training, evaluation and safetensors checkpoints.
"""
