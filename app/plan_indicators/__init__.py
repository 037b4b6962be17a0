"""Socio-economic plan indicators (chỉ tiêu kế hoạch kinh tế – xã hội) of a unit above the commune.

What a district or province conference reports beside NTM ("45/47 chỉ tiêu kế hoạch tỉnh,
61/65 chỉ tiêu kinh tế xã hội do HĐND huyện giao"): contract v1.2, "Plan indicators".
"""
