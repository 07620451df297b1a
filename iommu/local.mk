# iommu/: the VT-d DMA-remapping model (a later issue).
