# iommu/local.mk
